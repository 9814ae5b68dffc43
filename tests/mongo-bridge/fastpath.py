"""Hash-index fast path for mongomock.

Plain mongomock answers every filter, and every unique-index check, by scanning
the whole collection, so batched upserts crawl at a few dozen statements/s.
This module keeps, per collection, a hash table for each unique index (plus the
store's own `_id` dict) and answers equality filters on those fields from it.

The fast path only ever *chooses candidates*: every candidate is still tested
with mongomock's own `filter_applies`, in the collection's natural order, so a
fast answer is the plain answer as long as no matching document is left out.
That holds because:

* a document is bucketed by the Python value of each indexed field, and for
  scalars mongomock's equality is Python `==` (hash-consistent, so 1, 1.0 and
  True share a bucket, exactly as mongomock matches them); a missing field and
  null share the `None` bucket;
* documents whose indexed value is an array, a sub-document or unhashable are
  "irregular" and always candidates (array membership etc. stays mongomock's);
* only filters whose leading entries are plain scalar equalities covering the
  index are accelerated; mongomock evaluates filter entries in order and stops
  at the first mismatch, so for a skipped document it would have returned
  False before reaching any later entry that could raise;
* mongomock mutates stored documents in place inside `Collection._update`;
  every document handed out during an update, and every store write/delete,
  is marked dirty; dirty documents are always candidates, and are re-indexed
  when the update moves on to the next document or returns.

`tests/mongo-bridge/test_bridge.py` checks all this differentially against
plain mongomock (`bridge.py --no-fast-path`).
"""

import datetime
import functools
import types

from bson.int64 import Int64
from bson.objectid import ObjectId
from mongomock import collection as mm_collection
from mongomock import helpers, store as mm_store
from mongomock.filtering import filter_applies

_plain_patch_datetimes = helpers.patch_datetime_awareness_in_document
_SCALARS = frozenset([str, int, float, bool, Int64, ObjectId, bytes, type(None)])


def _patch_datetimes(value):
    """mongomock's patch_datetime_awareness_in_document, exactly, but dispatching
    on exact types: it deep-copies every inserted and every update document, and
    its isinstance chain was a third of the bridge's time under syncer's upserts.
    Anything but plain dicts, lists and common scalars goes to the original."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: _patch_datetimes(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_patch_datetimes(item) for item in value]
    return _plain_patch_datetimes(value)

# Filter values we look up by hash (exact types: no exotic subclasses).
_SIMPLE_TYPES = frozenset([str, int, bool, Int64, ObjectId, datetime.datetime, type(None)])
_IRREGULAR = object()


def _is_simple(value):
    return type(value) in _SIMPLE_TYPES


def _key_part(doc, path):
    """The value a document is bucketed under for one indexed field."""
    cur = doc
    for part in path.split('.'):
        if isinstance(cur, dict):
            cur = cur.get(part)
            if cur is None:
                return None  # missing and null match the same equality filters
        elif isinstance(cur, (list, tuple)):
            return _IRREGULAR  # array traversal: leave it to mongomock
        else:
            return None  # path through a scalar matches no scalar; None is a superset
    if isinstance(cur, (dict, list, tuple)):
        return _IRREGULAR
    try:
        hash(cur)
    except TypeError:
        return _IRREGULAR
    return cur


class _HashIndex:
    def __init__(self, fields):
        self.fields = fields
        self.buckets = {}   # key tuple -> set of store keys
        self.key_of = {}    # store key -> key tuple or _IRREGULAR
        self.irregular = set()

    def add(self, doc_key, doc):
        key = tuple(_key_part(doc, f) for f in self.fields)
        if any(p is _IRREGULAR for p in key):
            key = _IRREGULAR
            self.irregular.add(doc_key)
        else:
            self.buckets.setdefault(key, set()).add(doc_key)
        self.key_of[doc_key] = key

    def remove(self, doc_key):
        key = self.key_of.pop(doc_key, None)
        if key is _IRREGULAR:
            self.irregular.discard(doc_key)
        elif key is not None:
            bucket = self.buckets[key]
            bucket.discard(doc_key)
            if not bucket:
                del self.buckets[key]


class FastCollectionStore(mm_store.CollectionStore):
    """mongomock's collection store plus hash indexes and natural-order numbers."""

    def __init__(self, name):
        super().__init__(name)
        self._reset_fast()

    def _reset_fast(self):
        self._seq = {}          # store key -> insertion number (natural order)
        self._next_seq = 0
        self._hashes = {}       # tuple of field names -> _HashIndex
        self._dirty = set()
        self.writing = 0        # depth of running Collection._update calls
        self._indexes_stale = True

    # Index specs change only through these three; `_sync_indexes` rebuilds the
    # hash tables after a change instead of re-reading every spec on each lookup.
    @property
    def indexes(self):
        return self._index_specs

    @indexes.setter
    def indexes(self, specs):
        self._index_specs = specs
        self._indexes_stale = True

    def create_index(self, index_name, index_dict):
        super().create_index(index_name, index_dict)
        self._indexes_stale = True

    def drop_index(self, index_name):
        super().drop_index(index_name)
        self._indexes_stale = True

    def __setitem__(self, key, val):
        if key not in self._documents:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        super().__setitem__(key, val)
        self._dirty.add(key)

    def __delitem__(self, key):
        super().__delitem__(key)
        self._seq.pop(key, None)
        self._dirty.add(key)

    def drop(self):
        super().drop()
        self._reset_fast()

    def reindex(self, key):
        doc = self._documents.get(key)
        for index in self._hashes.values():
            index.remove(key)
            if doc is not None:
                index.add(key, doc)
        self._dirty.discard(key)

    def flush(self):
        """Re-index dirty documents (only valid while no update is running)."""
        for key in list(self._dirty):
            self.reindex(key)

    def _sync_indexes(self):
        if not self._indexes_stale:
            return
        self._indexes_stale = False
        wanted = {tuple(field for field, _ in spec['key'])
                  for spec in self.indexes.values() if spec.get('unique')}
        for fields in list(self._hashes):
            if fields not in wanted:
                del self._hashes[fields]
        for fields in wanted - set(self._hashes):
            index = self._hashes[fields] = _HashIndex(fields)
            for key, doc in self._documents.items():
                index.add(key, doc)

    def candidates(self, filter):
        """Documents that may match `filter`, in natural order, or None to scan."""
        if self._ttl_indexes or not isinstance(filter, dict):
            return None
        prefix = {}
        for field, value in filter.items():
            if field.startswith('$') or not _is_simple(value):
                break
            prefix[field] = value
        if not prefix:
            return None
        if '_id' in prefix:
            doc = self._documents.get(prefix['_id'])
            return [] if doc is None else [doc]
        if not self.writing:
            self.flush()
        self._sync_indexes()
        for fields, index in self._hashes.items():
            if all(f in prefix for f in fields):
                keys = index.buckets.get(tuple(prefix[f] for f in fields), set())
                keys = keys | index.irregular | self._dirty
                break
        else:
            return None
        keys = sorted((k for k in keys if k in self._documents), key=self._seq.__getitem__)
        return [self._documents[k] for k in keys]


class FastDatabaseStore(mm_store.DatabaseStore):
    def __getitem__(self, col_name):
        try:
            return self._collections[col_name]
        except KeyError:
            col = self._collections[col_name] = FastCollectionStore(col_name)
            return col


class FastServerStore(mm_store.ServerStore):
    def __getitem__(self, db_name):
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = FastDatabaseStore()
            return db


def _store_key(doc):
    _id = doc['_id']
    return helpers.hashdict(_id) if isinstance(_id, dict) else _id


_plain_iter_documents = mm_collection.Collection._iter_documents
_plain_update = mm_collection.Collection._update


def _iter_documents(self, filter):
    store = self._store
    if not isinstance(store, FastCollectionStore):
        return _plain_iter_documents(self, filter)
    # Same validation as mongomock: a bad filter raises even on an empty store.
    if store.is_empty:
        filter_applies(filter, {})
    docs = store.candidates(filter)
    if docs is None:
        docs = list(store.documents)
    return _matching(store, filter, docs)


def _matching(store, filter, docs):
    for doc in docs:
        if not filter_applies(filter, doc):
            continue
        if not store.writing:
            yield doc
            continue
        # Inside an update the caller may mutate `doc` in place until it asks
        # for the next one; keep it dirty (always a candidate) until then, so
        # that a multi-document update does not pile up dirty documents.
        key = _store_key(doc)
        store._dirty.add(key)
        yield doc
        store.reindex(key)


def _update(self, *args, **kwargs):
    store = self._store
    if not isinstance(store, FastCollectionStore):
        return _plain_update(self, *args, **kwargs)
    store.writing += 1  # documents handed out may now change in place
    try:
        return _plain_update(self, *args, **kwargs)
    finally:
        store.writing -= 1
        if not store.writing:
            store.flush()  # else a stream of upserts piles up dirty documents


# mongomock compares the pymongo version with `version.parse('3.6')` on every
# field an update sets; parsing was a fifth of the bridge's time under syncer's
# upserts. Versions are immutable, so a cached parse answers the same.
_cached_version = types.SimpleNamespace(
    parse=functools.lru_cache(maxsize=64)(mm_collection.version.parse))

# Installed on import; a client built on a plain mongomock store is unaffected
# (the datetime patch and the version parse are the same functions, only faster).
mm_collection.Collection._iter_documents = _iter_documents
mm_collection.Collection._update = _update
helpers.patch_datetime_awareness_in_document = _patch_datetimes
mm_collection.version = _cached_version
