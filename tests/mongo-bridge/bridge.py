#!/usr/bin/env python3
"""MongoDB wire-protocol test server ("the bridge") for syncer's tests.

mockupdb parses and frames the wire protocol (OP_MSG, legacy OP_QUERY),
mongomock supplies query/update semantics, and `fastpath` adds hash lookups so
batched upserts are usable. See README.md for what is implemented and where it
differs from MongoDB.

    python3 bridge.py [--host 127.0.0.1] [--port 0] [--verbose] [--no-fast-path]

Prints one line `listening HOST:PORT` on stdout once it accepts connections,
logs to stderr, and serves until SIGTERM/SIGINT.
"""

import argparse
import datetime
import itertools
import json
import logging
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping

import bson
import mockupdb
import mongomock
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.objectid import ObjectId
from bson.raw_bson import RawBSONDocument
from mongomock import collection as mm_collection
from mongomock import helpers as mm_helpers
from mongomock.filtering import BsonComparable, filter_applies
from pymongo.errors import (CollectionInvalid, DuplicateKeyError, InvalidName,
                            OperationFailure)

log = logging.getLogger('mongo-bridge')

MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48_000_000
MAX_OPEN_CURSORS = 1000
OP_MSG_MORE_TO_COME = mockupdb.OP_MSG_FLAGS['moreToCome']
PLAIN_DICTS = CodecOptions()

CODE_NAMES = {
    1: 'InternalError', 2: 'BadValue', 9: 'FailedToParse', 14: 'TypeMismatch',
    26: 'NamespaceNotFound', 27: 'IndexNotFound', 43: 'CursorNotFound',
    48: 'NamespaceExists', 59: 'CommandNotFound', 66: 'ImmutableField',
    72: 'InvalidOptions', 73: 'InvalidNamespace', 85: 'IndexOptionsConflict',
    86: 'IndexKeySpecsConflict', 238: 'NotImplemented', 11000: 'DuplicateKey',
}

# Commands that touch no data: served without the data lock (the driver's
# heartbeat must never wait behind a long command) and not counted as the
# "read/write commands" that fault injection counts.
NO_DATA = {'hello', 'ismaster', 'ping', 'buildinfo', 'endsessions',
           'bridgefault', 'bridgestats'}
# Still answered while the bridge plays dead, so the driver's monitor keeps
# the server selectable and test code can clear the fault.
ALWAYS_SERVED = NO_DATA - {'ping'}


class CommandError(Exception):
    def __init__(self, code, errmsg, **extra):
        super().__init__(errmsg)
        self.code, self.errmsg, self.extra = code, errmsg, extra

    def reply(self):
        return {'ok': 0.0, 'errmsg': self.errmsg, 'code': self.code,
                'codeName': CODE_NAMES.get(self.code, 'Location%d' % self.code),
                **self.extra}

    def write_error(self, index):
        return {'index': index, 'code': self.code, **self.extra, 'errmsg': self.errmsg}


# --- mongomock adjustments, applied with and without the fast path ----------

def _violated_unique_index(coll, doc):
    """Which unique index `doc` (already in the store) collides on, as
    (name, keyPattern, keyValue); mirrors mongomock's _ensure_uniques."""
    for name, index in coll._store.indexes.items():
        if not index.get('unique'):
            continue
        value = {}
        for field, _ in index['key']:
            try:
                value[field] = mm_helpers.get_value_by_dot(doc, field)
            except KeyError:
                value[field] = None
        if index.get('sparse') and set(value.values()) == {None}:
            continue
        query = value
        if index.get('partialFilterExpression') is not None:
            query = {'$and': [index['partialFilterExpression'], value]}
        if len(list(coll._iter_documents(query))) > 1:
            return name, dict(index['key']), value
    return None


_plain_ensure_uniques = mm_collection.Collection._ensure_uniques
_plain_insert = mm_collection.Collection._insert
_plain_inc = mm_collection._updaters['$inc']


def _ensure_uniques(self, new_data):
    # mongomock's DuplicateKeyError says nothing about the index; the driver
    # and syncer want keyPattern/keyValue, so record them on the exception.
    try:
        _plain_ensure_uniques(self, new_data)
    except DuplicateKeyError as exc:
        exc.bridge_key = _violated_unique_index(self, new_data)
        raise


def _insert(self, data, *args, **kwargs):
    try:
        return _plain_insert(self, data, *args, **kwargs)
    except DuplicateKeyError as exc:
        if isinstance(data, Mapping) and getattr(exc, 'bridge_key', None) is None:
            exc.bridge_key = ('_id_', {'_id': 1}, {'_id': data.get('_id')})
        raise


def _inc_keeping_int64(doc, field, value):
    # Python's Int64 + int is a plain int, which would go back out as an
    # Int32; MongoDB keeps a long a long.
    before = doc.get(field) if isinstance(doc, dict) else None
    _plain_inc(doc, field, value)
    if isinstance(doc, dict) and Int64 in (type(before), type(value)) \
            and type(doc.get(field)) is int:
        doc[field] = Int64(doc[field])


def _cursor_next(self):
    # mongomock's Cursor.__next__ re-slices the whole result list on every
    # call, which makes reading n documents O(n^2) (find, aggregate, delete).
    results = self._compute_results()
    limit = abs(self._limit) if self._limit else None
    position = self._skip + self._emitted
    if position >= len(results) or (limit is not None and self._emitted >= limit):
        raise StopIteration
    self._emitted += 1
    return results[position]


mm_collection.Cursor.__next__ = mm_collection.Cursor.next = _cursor_next
mm_collection.Collection._ensure_uniques = _ensure_uniques
mm_collection.Collection._insert = _insert
mm_collection._updaters['$inc'] = _inc_keeping_int64


def _fmt_value(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, ObjectId):
        return 'ObjectId(%s)' % json.dumps(str(value))
    return repr(value)


def _to_command_error(exc, ns):
    """Map an exception from a command or a write statement to a MongoDB error."""
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, DuplicateKeyError):
        name, pattern, value = getattr(exc, 'bridge_key', None) or ('unknown', {}, {})
        dup = ', '.join('%s: %s' % (k, _fmt_value(v)) for k, v in value.items())
        return CommandError(
            11000, 'E11000 duplicate key error collection: %s index: %s dup key: { %s }'
            % (ns, name, dup), keyPattern=pattern, keyValue=value)
    if isinstance(exc, InvalidName):
        return CommandError(73, str(exc))
    if isinstance(exc, OperationFailure):
        code = exc.code if isinstance(exc.code, int) and exc.code else 2
        return CommandError(code, str(exc))
    if isinstance(exc, NotImplementedError):
        return CommandError(238, 'not supported by the test bridge: %s' % exc)
    if isinstance(exc, (ValueError, TypeError, bson.errors.BSONError)):
        return CommandError(2, str(exc) or type(exc).__name__)
    log.exception('internal error in %s', ns)
    return CommandError(1, '%s: %s' % (type(exc).__name__, exc))


def _id_first(doc):
    """MongoDB always stores and returns `_id` as the first field."""
    if '_id' not in doc or next(iter(doc)) == '_id':
        return doc
    out = {'_id': doc['_id']}
    out.update((k, v) for k, v in doc.items() if k != '_id')
    return out


class _Cursor:
    def __init__(self, ns, docs):
        self.ns, self.docs, self.pos = ns, docs, 0

    def take(self, limit):
        """Next batch as raw BSON: at most `limit` docs (None: any) and 16 MiB."""
        batch, size = [], 0
        while self.pos < len(self.docs) and (limit is None or len(batch) < limit):
            raw = bson.encode(_id_first(self.docs[self.pos]))
            if batch and size + len(raw) > MAX_BSON_SIZE:
                break
            batch.append(RawBSONDocument(raw))
            size += len(raw)
            self.pos += 1
        return batch

    @property
    def exhausted(self):
        return self.pos >= len(self.docs)


class Bridge:
    """Command execution, data, cursors, fault injection and statistics."""

    def __init__(self, fast_path=True, drop_connections=lambda: None):
        store = None
        if fast_path:
            import fastpath  # patches mongomock; inert for plain stores
            store = fastpath.FastServerStore()
        self.client = mongomock.MongoClient(_store=store)
        self.drop_connections = drop_connections
        self.lock = threading.Lock()          # serialises every data command
        self.cursors = {}
        self._cursor_ids = itertools.count(1)
        self._collections = {}
        self.state_lock = threading.Lock()    # fault state and statistics
        self.served, self.refused = Counter(), Counter()
        self.trip_after = None                # counted commands still served
        self.down = False
        self.down_left = None                 # refusals before coming back; None: until clear
        self.trips = 0
        self.handlers = {name[4:]: getattr(self, name)
                         for name in dir(self) if name.startswith('cmd_')}

    # --- dispatch ---

    def admit(self, name):
        """'serve', 'refuse' (close this connection) or 'trip' (close all)."""
        with self.state_lock:
            if self.down and name not in ALWAYS_SERVED:
                self.refused[name] += 1
                if self.down_left is not None:
                    self.down_left -= 1
                    self.down = self.down_left > 0
                return 'refuse'
            if self.trip_after is not None and name not in NO_DATA:
                if self.trip_after == 0:
                    self.trip_after = None
                    self.trips += 1
                    self.refused[name] += 1
                    self.down = self.down_left is None or self.down_left > 0
                    return 'trip'
                self.trip_after -= 1
            return 'serve'

    def execute(self, db, cmd, conn_id):
        """Run one command; returns the reply document, or None to hang up."""
        name = next(iter(cmd), '')
        key = name.lower()
        verdict = self.admit(key)
        if verdict != 'serve':
            log.info('conn %d: %s refused (fault injection: %s)', conn_id, name, verdict)
            if verdict == 'trip':
                self.drop_connections()
            return None
        started = time.perf_counter()
        handler = self.handlers.get(key)
        try:
            if key in ('hello', 'ismaster'):
                reply = self.hello(conn_id)
            elif handler is None:
                raise CommandError(59, "no such command: '%s'" % name)
            elif key in NO_DATA:
                reply = handler(db, cmd)
            else:
                with self.lock:
                    reply = handler(db, cmd)
        except Exception as exc:  # every failure becomes a MongoDB error reply
            reply = _to_command_error(exc, '%s.%s' % (db, cmd.get(name))).reply()
        with self.state_lock:
            self.served[name] += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug('conn %d: %s.%s %.60r -> %s (%.1f ms)', conn_id, db, name, cmd.get(name),
                      'ok' if reply.get('ok') else 'error %(code)s: %(errmsg)s' % reply,
                      (time.perf_counter() - started) * 1e3)
        return reply

    def _coll(self, db, name):
        if not isinstance(name, str) or not name:
            raise CommandError(73, 'invalid collection name: %r' % (name,))
        try:
            return self._collections[db, name]
        except KeyError:
            coll = self._collections[db, name] = self.client[db][name]
            return coll

    def _exists(self, db, name):
        return name in self.client[db].list_collection_names()

    def _implicitly_create(self, db, name):
        # mongomock forgets a collection once it has no documents and no
        # indexes; MongoDB keeps one that a write or an index created.
        if not self._exists(db, name):
            self.client[db].create_collection(name)

    def _cursor_reply(self, ns, docs, batch_size, single_batch=False):
        cursor = _Cursor(ns, docs)
        batch = cursor.take(101 if batch_size is None else int(batch_size))
        cursor_id = 0
        if not (single_batch or cursor.exhausted):
            cursor_id = next(self._cursor_ids)
            self.cursors[cursor_id] = cursor
            while len(self.cursors) > MAX_OPEN_CURSORS:  # abandoned cursors
                del self.cursors[next(iter(self.cursors))]
        return {'cursor': {'firstBatch': batch, 'id': Int64(cursor_id), 'ns': ns}, 'ok': 1.0}

    # --- handshake and server information ---

    def hello(self, conn_id):
        # No topologyVersion (it would switch the driver to streaming monitoring,
        # which a request/response server cannot serve) and no compression.
        return {
            'ismaster': True, 'isWritablePrimary': True, 'helloOk': True,
            'maxBsonObjectSize': MAX_BSON_SIZE, 'maxMessageSizeBytes': MAX_MESSAGE_SIZE,
            'maxWriteBatchSize': 100000,
            'localTime': datetime.datetime.now(datetime.timezone.utc),
            'logicalSessionTimeoutMinutes': 30, 'connectionId': conn_id,
            'minWireVersion': 0, 'maxWireVersion': 17, 'readOnly': False, 'ok': 1.0,
        }

    def cmd_ping(self, db, cmd):
        return {'ok': 1.0}

    def cmd_buildinfo(self, db, cmd):
        return {'version': '6.0.0-bridge', 'versionArray': [6, 0, 0, 0],
                'gitVersion': 'mongo-bridge', 'bits': 64, 'debug': False,
                'maxBsonObjectSize': MAX_BSON_SIZE, 'storageEngines': [], 'ok': 1.0}

    def cmd_endsessions(self, db, cmd):
        return {'ok': 1.0}

    # --- fault injection and statistics (test control; product code never sends these) ---

    def cmd_bridgefault(self, db, cmd):
        with self.state_lock:
            if cmd.get('clear'):
                self.trip_after, self.down, self.down_left = None, False, None
            if 'dropConnectionsAfter' in cmd:
                after, down_for = cmd['dropConnectionsAfter'], cmd.get('downForCommands')
                for value in (after, down_for):
                    if value is not None and (not isinstance(value, int) or value < 0):
                        raise CommandError(2, 'dropConnectionsAfter and downForCommands '
                                              'must be non-negative integers')
                self.trip_after, self.down_left, self.down = int(after), down_for, False
            return {'ok': 1.0, **self._fault_state()}

    def cmd_bridgestats(self, db, cmd):
        with self.state_lock:
            return {'ok': 1.0, 'commands': dict(self.served),
                    'refused': dict(self.refused), **self._fault_state()}

    def _fault_state(self):
        return {'down': self.down, 'trips': self.trips,
                'dropConnectionsAfter': self.trip_after, 'downForCommands': self.down_left}

    # --- databases and collections ---

    def cmd_listdatabases(self, db, cmd):
        dbs = [{'name': n, 'sizeOnDisk': 0, 'empty': False}
               for n in self.client.list_database_names()]
        dbs = [d for d in dbs if filter_applies(cmd.get('filter') or {}, d)]
        if cmd.get('nameOnly'):
            dbs = [{'name': d['name']} for d in dbs]
        return {'databases': dbs, 'totalSize': 0, 'ok': 1.0}

    def cmd_listcollections(self, db, cmd):
        entries = [{'name': n, 'type': 'collection', 'options': {},
                    'info': {'readOnly': False},
                    'idIndex': {'v': 2, 'key': {'_id': 1}, 'name': '_id_'}}
                   for n in self.client[db].list_collection_names()]
        entries = [e for e in entries if filter_applies(cmd.get('filter') or {}, e)]
        if cmd.get('nameOnly'):
            entries = [{'name': e['name'], 'type': e['type']} for e in entries]
        return self._cursor_reply('%s.$cmd.listCollections' % db, entries,
                                  (cmd.get('cursor') or {}).get('batchSize'))

    def cmd_create(self, db, cmd):
        name = cmd['create']
        self._coll(db, name)
        try:
            self.client[db].create_collection(name)
        except CollectionInvalid:
            raise CommandError(48, 'Collection %s.%s already exists.' % (db, name))
        return {'ok': 1.0}

    def cmd_drop(self, db, cmd):
        name = cmd['drop']
        coll = self._coll(db, name)
        if not self._exists(db, name):
            return {'ok': 1.0}  # MongoDB 7 no longer errors here; drivers ignore it anyway
        was = len(list(coll.list_indexes()))
        self.client[db].drop_collection(name)
        return {'nIndexesWas': was, 'ns': '%s.%s' % (db, name), 'ok': 1.0}

    def cmd_dropdatabase(self, db, cmd):
        self.client.drop_database(db)
        return {'dropped': db, 'ok': 1.0}

    # --- writes ---

    def cmd_insert(self, db, cmd):
        coll = self._coll(db, cmd['insert'])
        self._implicitly_create(db, cmd['insert'])
        ns, n, errors = '%s.%s' % (db, cmd['insert']), 0, []
        for index, doc in enumerate(cmd.get('documents', [])):
            try:
                if '_id' not in doc:
                    doc = {'_id': ObjectId(), **doc}
                coll.insert_one(_id_first(doc))
                n += 1
            except Exception as exc:
                errors.append(_to_command_error(exc, ns).write_error(index))
                if cmd.get('ordered', True):
                    break
        return self._write_reply({'n': n}, errors)

    def cmd_update(self, db, cmd):
        coll = self._coll(db, cmd['update'])
        ns, n, modified, upserted, errors = '%s.%s' % (db, cmd['update']), 0, 0, [], []
        for index, stmt in enumerate(cmd.get('updates', [])):
            try:
                result = self._update(coll, stmt.get('q') or {}, stmt.get('u'),
                                      bool(stmt.get('multi')), bool(stmt.get('upsert')))
                n += result['n']
                if result['upserted'] is not None:
                    upserted.append({'index': index, '_id': result['upserted']})
                else:
                    modified += result['nModified']
            except Exception as exc:
                errors.append(_to_command_error(exc, ns).write_error(index))
                if cmd.get('ordered', True):
                    break
        reply = {'n': n, 'nModified': modified}
        if upserted:
            reply['upserted'] = upserted
        return self._write_reply(reply, errors)

    def _update(self, coll, query, update, multi, upsert):
        """One update statement; returns mongomock's raw result."""
        if isinstance(update, list) or (update and all(k.startswith('$') for k in update)):
            run = coll.update_many if multi else coll.update_one
            result = run(query, update, upsert=upsert).raw_result
        elif not isinstance(update, Mapping):
            raise CommandError(9, 'update must be a document or a pipeline')
        elif any(k.startswith('$') for k in update):
            raise CommandError(9, 'cannot mix update operators and replacement fields')
        elif multi:
            raise CommandError(9, 'multi update is not supported for replacement-style update')
        else:
            result = coll.replace_one(query, update, upsert=upsert).raw_result
        if result['upserted'] is not None:
            self._implicitly_create(coll.database.name, coll.name)
            # mongomock builds upserted documents as {**query, _id}.
            _id = result['upserted']
            key = mm_helpers.hashdict(_id) if isinstance(_id, dict) else _id
            coll._store[key] = _id_first(coll._store[key])
        return result

    def cmd_delete(self, db, cmd):
        coll = self._coll(db, cmd['delete'])
        ns, n, errors = '%s.%s' % (db, cmd['delete']), 0, []
        for index, stmt in enumerate(cmd.get('deletes', [])):
            try:
                run = coll.delete_one if stmt.get('limit') == 1 else coll.delete_many
                n += run(stmt.get('q') or {}).deleted_count
            except Exception as exc:
                errors.append(_to_command_error(exc, ns).write_error(index))
                if cmd.get('ordered', True):
                    break
        return self._write_reply({'n': n}, errors)

    @staticmethod
    def _write_reply(reply, errors):
        if errors:
            reply['writeErrors'] = errors
        reply['ok'] = 1.0
        return reply

    def cmd_findandmodify(self, db, cmd):
        name = next(iter(cmd))
        coll = self._coll(db, cmd[name])
        query, fields = cmd.get('query') or {}, cmd.get('fields') or None
        sort = list((cmd.get('sort') or {}).items()) or None
        remove, update = bool(cmd.get('remove')), cmd.get('update')
        new, upsert = bool(cmd.get('new')), bool(cmd.get('upsert'))
        if remove == (update is not None):
            raise CommandError(9, 'Either an update or remove=true must be specified')
        if remove and (new or upsert):
            raise CommandError(9, 'Cannot specify new=true or upsert=true with remove=true')

        old = coll.find_one(query, sort=sort)
        if old is not None:
            # Re-target by _id (first, for the fast path) keeping the query's
            # other conditions for positional `$` updates.
            by_id = {'_id': old['_id']}
            by_id.update((k, v) for k, v in query.items() if k != '_id')
            old_value = coll.find_one({'_id': old['_id']}, fields)
        if remove:
            if old is None:
                return {'lastErrorObject': {'n': 0}, 'value': None, 'ok': 1.0}
            coll.delete_one(by_id)
            return {'lastErrorObject': {'n': 1}, 'value': old_value, 'ok': 1.0}
        if old is not None:
            self._update(coll, by_id, update, False, False)
            value = coll.find_one({'_id': old['_id']}, fields) if new else old_value
            return {'lastErrorObject': {'n': 1, 'updatedExisting': True},
                    'value': value, 'ok': 1.0}
        if not upsert:
            return {'lastErrorObject': {'n': 0, 'updatedExisting': False},
                    'value': None, 'ok': 1.0}
        _id = self._update(coll, query, update, False, True)['upserted']
        value = coll.find_one({'_id': _id}, fields) if new else None
        return {'lastErrorObject': {'n': 1, 'updatedExisting': False, 'upserted': _id},
                'value': value, 'ok': 1.0}

    # --- reads ---

    def cmd_find(self, db, cmd):
        coll = self._coll(db, cmd['find'])
        limit, single = int(cmd.get('limit') or 0), bool(cmd.get('singleBatch'))
        if limit < 0:  # legacy: a negative limit means one batch
            limit, single = -limit, True
        docs = list(coll.find(cmd.get('filter') or {}, cmd.get('projection') or None,
                              skip=int(cmd.get('skip') or 0), limit=limit,
                              sort=list((cmd.get('sort') or {}).items()) or None))
        return self._cursor_reply('%s.%s' % (db, cmd['find']), docs,
                                  cmd.get('batchSize'), single)

    def cmd_getmore(self, db, cmd):
        cursor_id = cmd['getMore']
        cursor = self.cursors.get(cursor_id)
        if cursor is None or cursor.ns != '%s.%s' % (db, cmd.get('collection')):
            raise CommandError(43, 'cursor id %s not found' % cursor_id)
        batch = cursor.take(cmd.get('batchSize') or None)
        if cursor.exhausted:
            del self.cursors[cursor_id]
            cursor_id = 0
        return {'cursor': {'nextBatch': batch, 'id': Int64(cursor_id), 'ns': cursor.ns},
                'ok': 1.0}

    def cmd_killcursors(self, db, cmd):
        killed, not_found = [], []
        for cursor_id in cmd.get('cursors', []):
            found = self.cursors.pop(cursor_id, None) is not None
            (killed if found else not_found).append(Int64(cursor_id))
        return {'cursorsKilled': killed, 'cursorsNotFound': not_found,
                'cursorsAlive': [], 'cursorsUnknown': [], 'ok': 1.0}

    def cmd_count(self, db, cmd):
        kwargs = {'skip': int(cmd.get('skip') or 0)}
        if cmd.get('limit'):
            kwargs['limit'] = abs(int(cmd['limit']))
        n = self._coll(db, cmd['count']).count_documents(cmd.get('query') or {}, **kwargs)
        return {'n': n, 'ok': 1.0}

    def cmd_distinct(self, db, cmd):
        values = self._coll(db, cmd['distinct']).distinct(cmd['key'], cmd.get('query') or None)
        # mongomock collects them in a set (order varies between processes).
        return {'values': sorted(values, key=BsonComparable), 'ok': 1.0}

    def cmd_aggregate(self, db, cmd):
        docs = list(self._coll(db, cmd['aggregate']).aggregate(cmd.get('pipeline', [])))
        return self._cursor_reply('%s.%s' % (db, cmd['aggregate']), docs,
                                  (cmd.get('cursor') or {}).get('batchSize'))

    # --- indexes ---

    def cmd_createindexes(self, db, cmd):
        name = cmd['createIndexes']
        coll = self._coll(db, name)
        created_automatically = not self._exists(db, name)
        self._implicitly_create(db, name)
        existing = {ix['name']: ix for ix in coll.list_indexes()}
        before = len(existing)
        for spec in cmd.get('indexes', []):
            key = list(spec['key'].items())
            index_name = spec.get('name') or mm_helpers.gen_index_name(key)
            options = {k: spec[k] for k in
                       ('unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression')
                       if spec.get(k) is not None and spec.get(k) is not False}
            same = existing.get(index_name)
            if same is not None:
                if list(same['key'].items()) != key:
                    raise CommandError(86, 'An existing index has the same name as the '
                                           'requested index but a different key: %s' % index_name)
                if any(same.get(k) != v for k, v in options.items()) or \
                        any(k in same and k not in options for k in ('unique', 'sparse')):
                    raise CommandError(85, 'An existing index has the same name as the '
                                           'requested index but different options: %s' % index_name)
                continue
            for other in existing.values():
                if list(other['key'].items()) == key:
                    raise CommandError(85, 'Index already exists with a different name: %s'
                                       % other['name'])
            coll.create_index(key, name=index_name, **options)
            existing = {ix['name']: ix for ix in coll.list_indexes()}
        reply = {'numIndexesBefore': before, 'numIndexesAfter': len(existing),
                 'createdCollectionAutomatically': created_automatically, 'ok': 1.0}
        if len(existing) == before:
            reply['note'] = 'all indexes already exist'
        return reply

    def cmd_listindexes(self, db, cmd):
        name = cmd['listIndexes']
        coll = self._coll(db, name)
        if not self._exists(db, name):
            raise CommandError(26, 'ns does not exist: %s.%s' % (db, name))
        docs = [{'v': ix['v'], 'key': ix['key'], 'name': ix['name'],
                 **{k: v for k, v in ix.items() if k not in ('v', 'key', 'name')}}
                for ix in coll.list_indexes()]
        return self._cursor_reply('%s.%s' % (db, name), docs,
                                  (cmd.get('cursor') or {}).get('batchSize'))

    def cmd_dropindexes(self, db, cmd):
        name = cmd['dropIndexes']
        coll = self._coll(db, name)
        if not self._exists(db, name):
            raise CommandError(26, 'ns not found %s.%s' % (db, name))
        existing = list(coll.list_indexes())
        target = cmd.get('index')
        if target == '*':
            coll.drop_indexes()
        else:
            for item in target if isinstance(target, list) else [target]:
                if isinstance(item, Mapping):
                    matches = [ix['name'] for ix in existing
                               if list(ix['key'].items()) == list(item.items())]
                    if not matches:
                        raise CommandError(27, "can't find index with key: %s" % dict(item))
                    item = matches[0]
                if item == '_id_':
                    raise CommandError(72, 'cannot drop _id index')
                if item not in {ix['name'] for ix in existing}:
                    raise CommandError(27, 'index not found with name [%s]' % item)
                coll.drop_index(item)
        return {'nIndexesWas': len(existing), 'ok': 1.0}


# --- wire protocol -------------------------------------------------------------

def _recv_exact(sock, length):
    # mockupdb's own receive loop appends to a bytes object chunk by chunk,
    # which is quadratic for multi-megabyte batches; fill one buffer instead.
    buf = bytearray(length)
    view, got = memoryview(buf), 0
    while got < length:
        n = sock.recv_into(view[got:], length - got)
        if n == 0:
            raise ConnectionResetError('client closed the connection')
        got += n
    return bytes(buf)


def _receive_request(sock):
    length, request_id, _, opcode = struct.unpack('<iiii', _recv_exact(sock, 16))
    if not 16 < length <= MAX_MESSAGE_SIZE + 16 * 1024:
        raise ValueError('bad message length %d' % length)
    body = _recv_exact(sock, length - 16)
    if opcode not in (mockupdb.OP_MSG, mockupdb.OP_QUERY):
        raise ValueError('unsupported opcode %d' % opcode)
    # server=None: mockupdb would otherwise repr() every reply for its log.
    # Documents decode as plain dicts (ordered since Python 3.7): mockupdb's
    # OrderedDicts are several times slower to build and for mongomock to copy.
    mockupdb.CODEC_OPTIONS = PLAIN_DICTS
    return mockupdb.OPCODES[opcode].unpack(body, sock, None, request_id)


class BridgeServer(mockupdb.MockupDB):
    """mockupdb's listener and connection threads, with our request loop."""

    def __init__(self, bridge, host, port):
        super().__init__(port=port)
        self._address = (host, port)
        self.bridge = bridge
        bridge.drop_connections = self.drop_connections
        self._conn_ids = itertools.count(1)
        self._conns, self._conns_lock = set(), threading.Lock()

    def drop_connections(self):
        """Close every client connection abruptly (fault injection)."""
        with self._conns_lock:
            for sock in self._conns:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # Replaces MockupDB._server_loop, which holds one lock around every
    # request and queues unmatched requests for interactive tests.
    def _server_loop(self, client, client_addr):
        conn_id = next(self._conn_ids)
        log.info('conn %d: connected from %s', conn_id, mockupdb.format_addr(client_addr))
        with self._conns_lock:
            self._conns.add(client)
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stopped:
                request = _receive_request(client)
                if not request.is_command:
                    request.fail('legacy queries are not supported', code=59)
                    continue
                reply = self.bridge.execute(request.namespace, request.doc, conn_id)
                if reply is None:
                    break
                # moreToCome: an unacknowledged (w: 0) write; the client reads no reply.
                if not (isinstance(request, mockupdb.OpMsg)
                        and request.flags & OP_MSG_MORE_TO_COME):
                    request.replies(reply)
        except OSError as exc:
            log.info('conn %d: closed (%s)', conn_id, exc)
        except Exception as exc:  # malformed message: drop the connection
            log.warning('conn %d: closing: %s: %s', conn_id, type(exc).__name__, exc)
        finally:
            with self._conns_lock:
                self._conns.discard(client)
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0, help='0: the OS picks a free port')
    parser.add_argument('--verbose', action='store_true', help='log every command to stderr')
    parser.add_argument('--no-fast-path', action='store_true',
                        help='plain mongomock (reference for differential tests)')
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format='mongo-bridge: %(message)s',
                        level=logging.DEBUG if args.verbose else logging.WARNING)

    stop = threading.Event()  # handlers first: a test may signal right after the line
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = BridgeServer(Bridge(fast_path=not args.no_fast_path), args.host, args.port)
    port = server.run()
    print('listening %s:%d' % (args.host, port), flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
