"""Tests for the MongoDB wire-protocol test bridge.

Run: python3 -m pytest -q tests/mongo-bridge   (prints throughput lines)

Every test talks to `bridge.py` started as a subprocess on port 0, as the Rust
tests do, through pymongo or raw wire messages; the one exception checks the
lock layout in-process.
"""

import datetime
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import bson
import pytest
from bson.int64 import Int64
from bson.objectid import ObjectId
from pymongo import MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import (AutoReconnect, BulkWriteError, DuplicateKeyError,
                            OperationFailure)
from pymongo.write_concern import WriteConcern

HERE = os.path.dirname(os.path.abspath(__file__))
BRIDGE = os.path.join(HERE, 'bridge.py')


class BridgeProcess:
    """bridge.py as a subprocess, started the way the Rust tests start it."""

    def __init__(self, *args):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, BRIDGE, '--port', '0', *args],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.line = self.proc.stdout.readline()
        match = re.fullmatch(r'listening (127\.0\.0\.1):(\d+)\n', self.line)
        assert match, 'unexpected first line %r, stderr: %s' % (self.line, self.log())
        self.port = int(match.group(2))

    def client(self, **kwargs):
        kwargs.setdefault('serverSelectionTimeoutMS', 5000)
        return MongoClient('127.0.0.1', self.port, **kwargs)

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors='replace')

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(15)
        rest = self.proc.stdout.read()
        self.proc.stdout.close()
        return rc, rest


@pytest.fixture(scope='module')
def bridge():
    proc = BridgeProcess()
    yield proc
    rc, _ = proc.stop()
    assert rc == 0, proc.log()


@pytest.fixture
def db(bridge, request):
    client = bridge.client(tz_aware=True)
    name = re.sub(r'\W', '_', request.node.name)[:60]
    client.drop_database(name)
    yield client[name]
    client.close()


def retry(fn, attempts=5):
    """Run a control command from a client whose connection a fault may have cut."""
    for attempt in range(attempts):
        try:
            return fn()
        except AutoReconnect:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


# --- raw wire helpers -------------------------------------------------------------

def _recv_exact(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, 'connection closed'
        data += chunk
    return data


def send_op_msg(sock, request_id, doc, flags=0):
    body = struct.pack('<I', flags) + b'\x00' + bson.encode(doc)
    sock.sendall(struct.pack('<iiii', 16 + len(body), request_id, 0, 2013) + body)


def send_op_query(sock, request_id, ns, doc):
    body = struct.pack('<i', 0) + ns.encode() + b'\x00' + struct.pack('<ii', 0, -1) + bson.encode(doc)
    sock.sendall(struct.pack('<iiii', 16 + len(body), request_id, 0, 2004) + body)


def read_reply(sock):
    """(responseTo, document) of the next OP_MSG or OP_REPLY."""
    length, _, response_to, opcode = struct.unpack('<iiii', _recv_exact(sock, 16))
    body = _recv_exact(sock, length - 16)
    offset = 20 if opcode == 1 else 5  # OP_REPLY header fields / OP_MSG flags + kind
    return response_to, bson.decode(body[offset:])


# --- process and handshake ----------------------------------------------------------

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_prints_one_line_and_exits_cleanly(sig):
    proc = BridgeProcess()
    with socket.create_connection(('127.0.0.1', proc.port), timeout=5):
        pass
    rc, rest = proc.stop(sig)
    assert (rc, rest) == (0, '')
    assert proc.log() == ''  # quiet by default


@pytest.mark.parametrize('legacy', [True, False], ids=['OP_QUERY', 'OP_MSG'])
@pytest.mark.parametrize('command', ['isMaster', 'ismaster', 'hello'])
def test_handshake_reply(bridge, legacy, command):
    with socket.create_connection(('127.0.0.1', bridge.port), timeout=5) as sock:
        if legacy:
            send_op_query(sock, 7, 'admin.$cmd', {command: 1, 'helloOk': True})
        else:
            send_op_msg(sock, 7, {command: 1, 'helloOk': True, '$db': 'admin'})
        response_to, reply = read_reply(sock)
    assert response_to == 7
    assert reply['ok'] == 1 and reply['ismaster'] is True and reply['helloOk'] is True
    assert reply['maxWireVersion'] == 17 and reply['minWireVersion'] == 0
    assert reply['maxWriteBatchSize'] == 100000
    assert reply['maxBsonObjectSize'] == 16 * 1024 * 1024
    assert reply['maxMessageSizeBytes'] >= 32 * 1024 * 1024
    assert reply['logicalSessionTimeoutMinutes'] == 30
    assert 'topologyVersion' not in reply and 'compression' not in reply


def test_server_info_and_sessions(bridge):
    client = bridge.client()
    assert client.admin.command('ping')['ok'] == 1
    assert client.server_info()['version'].endswith('-bridge')
    with client.start_session() as session:  # endSessions goes out on close
        client.t.c.find_one({}, session=session)
    client.close()


def test_hello_and_ping_do_not_wait_for_the_data_lock():
    sys.path.insert(0, HERE)
    import bridge as bridge_module
    server = bridge_module.BridgeServer(bridge_module.Bridge(), '127.0.0.1', 0)
    port = server.run()
    try:
        client = MongoClient('127.0.0.1', port, serverSelectionTimeoutMS=3000)
        client.t.c.insert_one({'x': 1})
        done = threading.Event()
        with server.bridge.lock:  # a long command in progress
            started = time.monotonic()
            assert client.admin.command('hello')['ok'] == 1
            assert client.admin.command('ping')['ok'] == 1
            assert time.monotonic() - started < 2
            threading.Thread(target=lambda: (client.t.c.find_one(), done.set())).start()
            assert not done.wait(0.3)  # data commands do wait
        assert done.wait(5)
        client.close()
    finally:
        server.stop()


# --- CRUD and reply shapes ---------------------------------------------------------

def test_crud_and_bson_types(db):
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
    db.c.insert_one({'_id': 'a', 'big': Int64(5), 'small': 5, 'when': when, 'tags': ['x'],
                     'nested': {'k': 1.5}})
    doc = db.c.find_one({'_id': 'a'})
    assert doc['when'] == when.replace(microsecond=123000)  # BSON dates: ms precision, UTC
    assert type(doc['big']) is Int64 and type(doc['small']) is int
    db.c.update_one({'_id': 'a'}, {'$inc': {'big': 1, 'small': 1}, '$unset': {'tags': ''}})
    doc = db.c.find_one({'_id': 'a'})
    assert (doc['big'], type(doc['big'])) == (6, Int64)
    assert 'tags' not in doc
    assert db.c.delete_one({'_id': 'a'}).deleted_count == 1
    assert db.c.find_one({'_id': 'a'}) is None


def test_inserted_documents_get_id_first(db):
    db.command('insert', 'c', documents=[{'a': 1}, {'a': 2, '_id': 7}])
    docs = list(db.c.find())
    assert [list(d)[0] for d in docs] == ['_id', '_id'] and docs[1]['_id'] == 7
    assert type(docs[0]['_id']) is ObjectId


def test_update_reply_shape_and_upserts(db):
    db.c.create_index([('cloud', 1), ('source', 1), ('reference_id', 1)], unique=True)
    key = {'cloud': 'aws', 'source': 'ec2', 'reference_id': 'i-1'}
    update = {'$set': {'state': 'running'}, '$setOnInsert': {'first_seen': 1}}
    reply = db.command('update', 'c', updates=[
        {'q': key, 'u': update, 'upsert': True},
        {'q': key, 'u': {'$set': {'state': 'stopped'}, '$setOnInsert': {'first_seen': 2}},
         'upsert': True},
        {'q': {'state': 'none'}, 'u': {'$set': {'x': 1}}, 'multi': True},
        {'q': dict(key, reference_id='i-2'), 'u': {'name': 'replacement'}, 'upsert': True},
    ])
    assert set(reply) == {'n', 'nModified', 'upserted', 'ok'}
    assert (reply['n'], reply['nModified']) == (3, 1)
    assert [u['index'] for u in reply['upserted']] == [0, 3]
    first = db.c.find_one({'_id': reply['upserted'][0]['_id']})
    assert list(first) == ['_id', 'cloud', 'source', 'reference_id', 'state', 'first_seen']
    assert (first['state'], first['first_seen']) == ('stopped', 1)
    replaced = db.c.find_one({'_id': reply['upserted'][1]['_id']})
    assert list(replaced) == ['_id', 'name']
    assert db.c.update_many({}, {'$set': {'seen': True}}).raw_result['nModified'] == 2


def test_duplicate_keys_are_write_errors_with_code_11000(db):
    db.c.create_index([('cloud', 1), ('reference_id', 1)], unique=True, name='natural')
    db.c.insert_one({'_id': 1, 'cloud': 'aws', 'reference_id': 'r1'})
    docs = [{'_id': 2, 'cloud': 'aws', 'reference_id': 'r1'},  # natural key taken
            {'_id': 1, 'cloud': 'gcp', 'reference_id': 'r1'},  # _id taken
            {'_id': 3, 'cloud': 'gcp', 'reference_id': 'r3'}]
    with pytest.raises(BulkWriteError) as unordered:
        db.c.insert_many(docs, ordered=False)
    result = unordered.value.details
    assert result['nInserted'] == 1
    first, second = result['writeErrors']
    assert (first['index'], first['code']) == (0, 11000)
    assert first['keyPattern'] == {'cloud': 1, 'reference_id': 1}
    assert first['keyValue'] == {'cloud': 'aws', 'reference_id': 'r1'}
    assert 'index: natural' in first['errmsg']
    assert (second['index'], second['code'], second['keyPattern']) == (1, 11000, {'_id': 1})

    with pytest.raises(BulkWriteError) as ordered:
        db.c.insert_many([{'_id': 4, 'cloud': 'x', 'reference_id': 'y'}, docs[0],
                          {'_id': 5, 'cloud': 'x', 'reference_id': 'z'}], ordered=True)
    assert ordered.value.details['nInserted'] == 1
    assert [e['index'] for e in ordered.value.details['writeErrors']] == [1]
    assert db.c.count_documents({}) == 3

    with pytest.raises(DuplicateKeyError) as single:
        db.c.update_one({'_id': 3}, {'$set': {'cloud': 'aws', 'reference_id': 'r1'}})
    assert single.value.code == 11000
    assert db.c.find_one({'_id': 3})['cloud'] == 'gcp'  # rolled back
    reply = db.command('update', 'c', updates=[
        {'q': {'cloud': 'aws', 'reference_id': 'r1', 'x': 1}, 'u': {'$set': {'y': 1}},
         'upsert': True}])
    assert reply['n'] == 0 and reply['writeErrors'][0]['code'] == 11000


def test_delete_and_w0_writes(bridge, db):
    db.c.insert_many([{'_id': i, 'even': i % 2 == 0} for i in range(10)])
    reply = db.command('delete', 'c', deletes=[{'q': {'even': True}, 'limit': 1},
                                               {'q': {'even': False}, 'limit': 0}])
    assert reply == {'n': 6, 'ok': 1.0}
    # w: 0 is sent with moreToCome and must get no reply: a stray reply would
    # be read as the answer to the next command on the same connection.
    with socket.create_connection(('127.0.0.1', bridge.port), timeout=5) as sock:
        send_op_msg(sock, 1, {'insert': 'c', 'documents': [{'_id': 'w0'}],
                              'writeConcern': {'w': 0}, '$db': db.name}, flags=2)
        send_op_msg(sock, 2, {'count': 'c', '$db': db.name})
        assert read_reply(sock) == (2, {'n': 5, 'ok': 1.0})
    db.with_options(write_concern=WriteConcern(w=0)).c.insert_one({'_id': 'w0b'})
    assert db.c.find_one({'_id': 'w0b'}) == {'_id': 'w0b'}


def test_find_options(db):
    db.c.insert_many([{'_id': i, 'n': i % 5, 'name': 'd%d' % i, 'x': {'y': i}} for i in range(20)])
    docs = list(db.c.find({'n': {'$gte': 3}}, {'name': 1, 'x.y': 1}).sort([('n', -1), ('_id', 1)])
                .skip(1).limit(5))
    assert [d['_id'] for d in docs] == [9, 14, 19, 3, 8]
    assert list(docs[0]) == ['_id', 'name', 'x']
    assert list(db.c.find({}, {'_id': 0, 'n': 1}).limit(2)) == [{'n': 0}, {'n': 1}]
    reply = db.command('find', 'c', filter={'n': 1}, batchSize=1, singleBatch=True)
    assert reply['cursor']['id'] == 0 and len(reply['cursor']['firstBatch']) == 1
    assert db.c.find_one({'x.y': 7})['_id'] == 7


def test_cursors_getmore_and_killcursors(db):
    db.c.insert_many([{'_id': i} for i in range(250)])
    reply = db.command('find', 'c', batchSize=100)
    cursor = reply['cursor']
    assert type(cursor['id']) is Int64 and cursor['id'] != 0 and cursor['ns'] == db.name + '.c'
    assert [d['_id'] for d in cursor['firstBatch']] == list(range(100))
    more = db.command('getMore', cursor['id'], collection='c', batchSize=100)['cursor']
    assert [d['_id'] for d in more['nextBatch']] == list(range(100, 200))
    assert more['id'] == cursor['id']
    killed = db.command('killCursors', 'c', cursors=[cursor['id'], Int64(987654)])
    assert killed['cursorsKilled'] == [cursor['id']] and killed['cursorsNotFound'] == [987654]
    with pytest.raises(OperationFailure) as gone:
        db.command('getMore', cursor['id'], collection='c')
    assert (gone.value.code, gone.value.details['codeName']) == (43, 'CursorNotFound')
    # Driver-side iteration over many small batches, and dropping a cursor early.
    assert [d['_id'] for d in db.c.find().batch_size(7)] == list(range(250))
    partial = db.c.find().batch_size(10)
    next(partial)
    partial.close()
    rest = db.command('find', 'c', skip=240)['cursor']
    assert rest['id'] == 0 and len(rest['firstBatch']) == 10


def test_indexes(db):
    name = db.c.create_index([('cloud', 1), ('source', 1), ('reference_id', 1)], unique=True)
    db.c.create_index('state')
    indexes = {ix['name']: ix for ix in db.c.list_indexes()}
    assert set(indexes) == {'_id_', name, 'state_1'}
    assert indexes[name]['unique'] is True and 'unique' not in indexes['state_1']
    assert dict(indexes[name]['key']) == {'cloud': 1, 'source': 1, 'reference_id': 1}
    assert db.c.create_index([('cloud', 1), ('source', 1), ('reference_id', 1)],
                             unique=True) == name  # idempotent
    with pytest.raises(OperationFailure) as conflict:
        db.c.create_index('state', unique=True)
    assert conflict.value.code == 85
    db.d.insert_many([{'k': 1}, {'k': 1}])
    with pytest.raises(OperationFailure) as dups:
        db.d.create_index('k', unique=True)
    assert dups.value.code == 11000
    db.c.drop_index('state_1')
    with pytest.raises(OperationFailure) as missing:
        db.c.drop_index('state_1')
    assert missing.value.code == 27
    with pytest.raises(OperationFailure) as no_ns:
        db.command('listIndexes', 'nothing_here')
    assert no_ns.value.code == 26
    db.c.drop_indexes()
    assert [ix['name'] for ix in db.c.list_indexes()] == ['_id_']


def test_find_and_modify_lease(db):
    """The lease pattern: take it if free or expired, else fail with 11000."""
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    minute = datetime.timedelta(minutes=1)

    def acquire(owner, at):
        return db.leases.find_one_and_update(
            {'_id': 'sync', '$or': [{'owner': owner}, {'expires': {'$lt': at}}]},
            {'$set': {'owner': owner, 'expires': at + minute}},
            upsert=True, return_document=ReturnDocument.AFTER)

    assert acquire('a', now)['owner'] == 'a'
    with pytest.raises(DuplicateKeyError):
        acquire('b', now + minute / 2)
    assert acquire('a', now + minute / 2)['expires'] == now + minute * 1.5  # renewal
    assert acquire('b', now + minute * 2)['owner'] == 'b'  # expired: taken over

    reply = db.command('findAndModify', 'leases', query={'_id': 'sync', 'owner': 'b'},
                       update={'$set': {'owner': 'c'}}, fields={'owner': 1})
    assert reply['value'] == {'_id': 'sync', 'owner': 'b'}
    assert reply['lastErrorObject'] == {'n': 1, 'updatedExisting': True}
    reply = db.command('findAndModify', 'leases', query={'_id': 'other'},
                       update={'$set': {'owner': 'z'}}, upsert=True, new=True)
    assert reply['lastErrorObject'] == {'n': 1, 'updatedExisting': False, 'upserted': 'other'}
    assert reply['value'] == {'_id': 'other', 'owner': 'z'}
    reply = db.command('findAndModify', 'leases', query={'owner': 'nobody'},
                       update={'$set': {'x': 1}})
    assert reply['value'] is None and reply['lastErrorObject']['n'] == 0
    removed = db.leases.find_one_and_delete({}, sort=[('_id', -1)])
    assert removed['_id'] == 'sync'
    assert [d['_id'] for d in db.leases.find()] == ['other']


def test_aggregate_count_distinct(db):
    db.c.insert_many([{'_id': i, 'cloud': ['aws', 'gcp'][i % 2], 'size': i} for i in range(10)])
    assert db.c.count_documents({'cloud': 'aws'}) == 5
    assert db.c.count_documents({}, skip=2, limit=5) == 5
    assert db.c.estimated_document_count() == 10
    assert db.command('count', 'c', query={'size': {'$gt': 6}})['n'] == 3
    assert sorted(db.c.distinct('cloud')) == ['aws', 'gcp']
    rows = list(db.c.aggregate([
        {'$match': {'size': {'$gte': 2}}},
        {'$group': {'_id': '$cloud', 'total': {'$sum': '$size'}, 'n': {'$sum': 1}}},
        {'$sort': {'_id': 1}}, {'$limit': 5},
        {'$project': {'total': 1, 'n': 1}},
    ]))
    assert rows == [{'_id': 'aws', 'total': 20, 'n': 4}, {'_id': 'gcp', 'total': 24, 'n': 4}]
    assert list(db.c.aggregate([{'$match': {'size': 3}}, {'$count': 'n'}])) == [{'n': 1}]


def test_databases_and_collections(bridge, db):
    db.create_collection('made')
    with pytest.raises(OperationFailure) as exists:
        db.command('create', 'made')
    assert (exists.value.code, exists.value.details['codeName']) == (48, 'NamespaceExists')
    db.other.insert_one({})
    assert set(db.list_collection_names()) == {'made', 'other'}
    assert db.list_collection_names(filter={'name': 'made'}) == ['made']
    assert db.name in bridge.client().list_database_names()
    db.drop_collection('made')
    db.drop_collection('never_existed')
    assert db.list_collection_names() == ['other']
    db.client.drop_database(db.name)
    assert db.name not in db.client.list_database_names()


def test_errors_carry_code_and_code_name(db):
    with pytest.raises(OperationFailure) as unknown:
        db.command('frobnicate', 1)
    details = unknown.value.details
    assert (details['ok'], details['code'], details['codeName']) == (0, 59, 'CommandNotFound')
    assert details['errmsg']
    for command in [{'getMore': Int64(42), 'collection': 'c'},
                    {'find': 'c', 'filter': {'$bogus': 1}},
                    {'update': 'c', 'updates': [{'q': {}, 'u': {'a': 1}, 'multi': True}]}]:
        try:
            reply = db.command(command)
            error = reply['writeErrors'][0]
        except OperationFailure as exc:
            error = exc.details
            assert isinstance(error['codeName'], str)
        assert isinstance(error['code'], int) and error['errmsg']


def test_concurrent_clients(bridge, db):
    db.c.create_index([('t', 1), ('i', 1)], unique=True)
    clients = [bridge.client(maxPoolSize=4) for _ in range(2)]
    errors = []

    def work(t):
        coll = clients[t % 2][db.name].c
        try:
            for i in range(150):
                coll.update_one({'t': t, 'i': i}, {'$inc': {'n': 1}}, upsert=True)
                assert coll.find_one({'t': t, 'i': i})['n'] == 1
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert db.c.count_documents({}) == 8 * 150
    for client in clients:
        client.close()


# --- fault injection ------------------------------------------------------------------

def test_database_goes_away_and_comes_back_with_data(bridge, db):
    control = bridge.client()
    app = bridge.client(retryWrites=False, retryReads=False)
    coll = app[db.name].c
    coll.insert_many([{'_id': i} for i in range(10)])

    def fault(**kwargs):
        return retry(lambda: control.admin.command('bridgeFault', 1, **kwargs))

    state = fault(dropConnectionsAfter=2, downForCommands=3)
    assert (state['down'], state['dropConnectionsAfter']) == (False, 2)
    coll.insert_one({'_id': 10})
    coll.insert_one({'_id': 11})
    with pytest.raises(AutoReconnect):
        coll.insert_one({'_id': 12})  # trips: every connection is cut, not executed
    for _ in range(3):
        with pytest.raises(AutoReconnect):
            coll.find_one({'_id': 0})
    coll.insert_one({'_id': 13})  # back
    assert sorted(d['_id'] for d in coll.find()) == list(range(12)) + [13]

    fault(dropConnectionsAfter=0)  # down until cleared
    with pytest.raises(AutoReconnect):
        coll.insert_one({'_id': 14})
    with pytest.raises(AutoReconnect):
        app.admin.command('ping')
    assert retry(lambda: control.admin.command('hello'))['ok'] == 1  # handshakes still work
    stats = retry(lambda: control.admin.command('bridgeStats'))
    assert stats['down'] is True and stats['refused']['ping'] >= 1
    fault(clear=1)
    assert app.admin.command('ping')['ok'] == 1
    assert coll.count_documents({}) == 13
    assert sorted(d['_id'] for d in coll.find()) == list(range(12)) + [13]

    stats = control.admin.command('bridgeStats')
    assert stats['commands']['insert'] >= 4 and stats['trips'] >= 2 and not stats['down']
    with pytest.raises(OperationFailure) as bad:
        control.admin.command('bridgeFault', 1, dropConnectionsAfter=-1)
    assert bad.value.code == 2
    control.close()
    app.close()


# --- differential test: fast path vs plain mongomock ---------------------------------

def test_fast_path_stays_on_the_index():
    """Batched upserts must not degrade into scans (the differential test below
    checks answers, not speed)."""
    sys.path.insert(0, HERE)
    import bridge as bridge_module
    bridge = bridge_module.Bridge()
    bridge.execute('t', {'createIndexes': 'c', 'indexes': [
        {'key': {'cloud': 1, 'ref': 1}, 'name': 'k', 'unique': True}]}, 1)
    store = bridge._coll('t', 'c')._store
    for _ in range(2):
        updates = [{'q': {'cloud': 'aws', 'ref': i}, 'u': {'$inc': {'n': 1}}, 'upsert': True}
                   for i in range(300)]
        reply = bridge.execute('t', {'update': 'c', 'updates': updates}, 1)
        assert reply['n'] == 300
        # Dirty documents are candidates of every lookup, so they must not pile
        # up (one may remain: the last upsert, rewritten to put _id first).
        assert len(store._dirty) <= 1
    assert len(store.candidates({'cloud': 'aws', 'ref': 7, 'n': 2})) == 1
    assert store.candidates({'n': {'$gt': 1}, 'cloud': 'aws', 'ref': 7}) is None  # key not leading


@pytest.fixture(scope='module')
def bridge_pair():
    fast, plain = BridgeProcess(), BridgeProcess('--no-fast-path')
    yield fast.client(), plain.client()
    for proc in (fast, plain):
        rc, _ = proc.stop()
        assert rc == 0, proc.log()


class Canon:
    """Comparable form of a reply: ordered, typed, server-made ObjectIds renamed."""

    OID = re.compile(r'[0-9a-f]{24}')

    def __init__(self):
        self.names = {}

    def oid(self, text):
        return 'oid%d' % self.names.setdefault(text, len(self.names))

    def __call__(self, value):
        if isinstance(value, dict):
            return [(k, self(v)) for k, v in value.items()]
        if isinstance(value, list):
            return ('list', [self(v) for v in value])
        if isinstance(value, ObjectId):
            return self.oid(str(value))
        if isinstance(value, str):
            return ('str', self.OID.sub(lambda m: self.oid(m.group()), value))
        return (type(value).__name__, value)


class RandomOps:
    CLOUDS, SOURCES = ['aws', 'gcp'], ['ec2', 's3', 'vm']
    ODD_REFS = [None, 3, Int64(3), 3.0, True, ['r1', 'r2'], {'x': 1}]

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def ref(self):
        rng = self.rng
        return rng.choice(self.ODD_REFS) if rng.random() < 0.08 else 'r%d' % rng.randrange(12)

    def doc(self):
        rng = self.rng
        doc = {} if rng.random() < 0.6 else {'_id': rng.randrange(40)}
        doc.update(cloud=rng.choice(self.CLOUDS), source=rng.choice(self.SOURCES))
        if rng.random() < 0.95:
            doc['reference_id'] = self.ref()
        doc.update(state=rng.choice(['running', 'stopped', None]), n=rng.randrange(5))
        if rng.random() < 0.3:
            doc['name'] = 'n%d' % rng.randrange(30)
        return doc

    def key(self):
        rng = self.rng
        key = {'cloud': rng.choice(self.CLOUDS), 'source': rng.choice(self.SOURCES),
               'reference_id': self.ref()}
        if rng.random() < 0.1:
            key = dict(reversed(list(key.items())))
        return key

    def filter(self):
        rng = self.rng
        kind = rng.random()
        if kind < 0.45:
            return self.key()
        if kind < 0.55:
            return dict(self.key(), state=rng.choice(['running', 'stopped']))
        if kind < 0.65:
            return {'_id': rng.randrange(40)}
        if kind < 0.75:
            return {'state': rng.choice(['running', 'stopped', None])}
        if kind < 0.82:
            return {'reference_id': self.ref()}
        if kind < 0.88:
            return {'$or': [self.key(), {'n': rng.randrange(5)}]}
        if kind < 0.94:
            return {'n': {'$gte': rng.randrange(5)}, 'cloud': rng.choice(self.CLOUDS)}
        if kind < 0.96:  # invalid operator before / after the key: errors must agree
            bad = {'n': {'$bogus': 1}}
            return dict(bad, **self.key()) if rng.random() < 0.5 else dict(self.key(), **bad)
        return {}

    def update(self):
        rng = self.rng
        kind = rng.random()
        if kind < 0.1:
            return {'name': 'replaced%d' % rng.randrange(5), 'n': rng.randrange(5)}
        if kind < 0.2:
            return {'$set': {'reference_id': self.ref()}}
        update = {'$set': {'state': rng.choice(['running', 'stopped']), 'name': 'n%d' % rng.randrange(30)}}
        if rng.random() < 0.3:
            update['$unset'] = {rng.choice(['name', 'state', 'extra']): ''}
        if rng.random() < 0.4:
            update['$setOnInsert'] = {'first_seen': rng.randrange(100)}
        if rng.random() < 0.3:
            update['$inc'] = {'n': rng.choice([1, Int64(2)])}
        return update

    def projection(self):
        return self.rng.choice([None, {'name': 1}, {'state': 0, 'n': 0},
                                {'cloud': 1, 'reference_id': 1, '_id': 0}])

    def command(self):
        rng = self.rng
        coll = 'inv' if rng.random() < 0.85 else 'leases'
        kind = rng.random()
        if coll == 'leases':  # unique index on a dotted path; sometimes through an array
            meta = {'name': 'l%d' % rng.randrange(6)}
            update = {'$set': {'holder': 'h%d' % rng.randrange(3),
                               'meta': [meta] if rng.random() < 0.2 else meta}}
            if rng.random() < 0.5:
                return {'findAndModify': coll, 'query': {'_id': 'l%d' % rng.randrange(6),
                                                         'holder': 'h%d' % rng.randrange(3)},
                        'update': update, 'upsert': True, 'new': rng.random() < 0.5}
            return {'update': coll, 'updates': [{'q': {'meta.name': 'l%d' % rng.randrange(6)},
                                                 'u': update, 'upsert': rng.random() < 0.5}]}
        if kind < 0.2:
            cmd = {'insert': coll, 'documents': [self.doc() for _ in range(rng.randint(1, 4))]}
            if rng.random() < 0.7:
                cmd['ordered'] = rng.random() < 0.5
            return cmd
        if kind < 0.5:
            updates = []
            for _ in range(rng.randint(1, 4)):
                u = self.update()
                multi = '$set' in u and rng.random() < 0.2
                updates.append({'q': self.filter(), 'u': u, 'upsert': rng.random() < 0.6,
                                'multi': multi})
            return {'update': coll, 'updates': updates, 'ordered': rng.random() < 0.5}
        if kind < 0.58:
            return {'delete': coll, 'deletes': [{'q': self.filter(), 'limit': rng.choice([0, 1])}]}
        if kind < 0.8:
            cmd = {'find': coll, 'filter': self.filter(), 'batchSize': 100000}
            if rng.random() < 0.5:
                cmd['projection'] = self.projection()
            if rng.random() < 0.3:
                cmd['sort'] = {'n': rng.choice([1, -1])}
            if rng.random() < 0.2:
                cmd['limit'] = rng.randint(1, 3)
            return cmd
        if kind < 0.88:
            fam = {'findAndModify': coll, 'query': self.filter()}
            if rng.random() < 0.15:
                fam['remove'] = True
            else:
                fam.update(update=self.update(), upsert=rng.random() < 0.5,
                           new=rng.random() < 0.5)
            if rng.random() < 0.3:
                fam['fields'] = self.projection()
            if rng.random() < 0.3:
                fam['sort'] = {'n': -1}
            return fam
        if kind < 0.93:
            return {'count': coll, 'query': self.filter()}
        if kind < 0.97:
            return {'aggregate': coll, 'pipeline': [{'$match': self.filter()},
                                                    {'$group': {'_id': 1, 'n': {'$sum': 1}}}],
                    'cursor': {}}
        if kind < 0.99:
            return {'distinct': coll, 'key': 'state', 'query': self.filter()}
        # Now and then rebuild the unique index (the fast path must follow).
        return rng.choice([{'dropIndexes': coll, 'index': 'natural'},
                           {'createIndexes': coll, 'indexes': [
                               {'key': {'cloud': 1, 'source': 1, 'reference_id': 1},
                                'name': 'natural', 'unique': True}]}])


def run_command(client, db_name, cmd):
    try:
        return client[db_name].command(cmd)
    except OperationFailure as exc:
        return exc.details


@pytest.mark.parametrize('seed', [1, 2, 3, 4])
def test_fast_path_matches_plain_mongomock(bridge_pair, seed):
    fast, plain = bridge_pair
    db_name = 'diff%d' % seed
    setup = [{'createIndexes': 'inv', 'indexes': [
                 {'key': {'cloud': 1, 'source': 1, 'reference_id': 1}, 'name': 'natural',
                  'unique': True},
                 {'key': {'state': 1}, 'name': 'state_1'}]},
             {'createIndexes': 'leases', 'indexes': [{'key': {'meta.name': 1},
                                                      'name': 'meta.name_1', 'unique': True}]}]
    ops = RandomOps(seed)
    commands = setup + [ops.command() for _ in range(2500)]
    canon_fast, canon_plain = Canon(), Canon()
    codes = set()
    for number, cmd in enumerate(commands):
        got_fast = run_command(fast, db_name, cmd)
        got_plain = run_command(plain, db_name, cmd)
        assert canon_fast(got_fast) == canon_plain(got_plain), \
            'command #%d %r:\nfast  %r\nplain %r' % (number, cmd, got_fast, got_plain)
        codes.update(e['code'] for e in got_fast.get('writeErrors', []))
        if not got_fast.get('ok'):
            codes.add(got_fast['code'])
    for coll in ('inv', 'leases'):
        for cmd in ({'find': coll, 'batchSize': 100000}, {'listIndexes': coll}):
            assert canon_fast(run_command(fast, db_name, cmd)) == \
                canon_plain(run_command(plain, db_name, cmd))
    assert 11000 in codes and 1 not in codes  # collisions happened; no internal errors
    assert fast[db_name].inv.estimated_document_count() > 20


# --- throughput (printed, not asserted) -----------------------------------------------

def test_throughput(bridge, capsys):
    client = bridge.client()
    db = client.throughput
    client.drop_database('throughput')
    db.inv.create_index([('cloud', 1), ('source', 1), ('reference_id', 1)], unique=True)

    def upserts(label, count, batch, update):
        started = time.perf_counter()
        for first in range(0, count, batch):
            result = db.inv.bulk_write([
                UpdateOne({'cloud': 'aws', 'source': 'ec2', 'reference_id': 'i-%d' % i},
                          update(i), upsert=True)
                for i in range(first, first + batch)], ordered=False)
            assert result.matched_count + result.upserted_count == batch
        return '%s: %d in %.1f s = %.0f statements/s' % (
            label, count, time.perf_counter() - started,
            count / (time.perf_counter() - started))

    lines = [upserts('upserts (new), batches of 1000', 20000, 1000, lambda i: {
        '$set': {'name': 'n%d' % i, 'state': 'running', 'tags': {'team': str(i % 7)}},
        '$setOnInsert': {'first_seen': datetime.datetime(2025, 1, 1)}})]
    lines.append(upserts('upserts (existing), batches of 1000', 20000, 1000, lambda i: {
        '$set': {'state': 'stopped', 'seen': Int64(i)}}))

    started = time.perf_counter()
    for first in range(0, 100000, 10000):
        db.big.insert_many([{'cloud': 'aws', 'reference_id': 'r%d' % i, 'name': 'n%d' % i,
                             'attrs': {'a': i, 'b': 'x' * 40}} for i in range(first, first + 10000)],
                           ordered=False)
    elapsed = time.perf_counter() - started
    lines.append('inserts, batches of 10000: 100000 in %.1f s = %.0f docs/s'
                 % (elapsed, 100000 / elapsed))
    started = time.perf_counter()
    count = sum(1 for _ in db.big.find({}, {'reference_id': 1, 'name': 1, '_id': 0}))
    elapsed = time.perf_counter() - started
    assert count == 100000
    lines.append('projection read through getMore: %d in %.1f s = %.0f docs/s'
                 % (count, elapsed, count / elapsed))
    client.drop_database('throughput')
    client.close()
    with capsys.disabled():
        print('\n' + '\n'.join('mongo-bridge throughput: ' + line for line in lines))
