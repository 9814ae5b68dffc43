#!/usr/bin/env python3
"""The baseline for `cargo xtask bench`: what the Python syncer did, with openstacksdk and
pymongo. For each resource kind it lists every project's resources, compares them with
the collection by reference_id, inserts the new, `$set`s the changed, and marks the gone
`active: -1`, one document at a time. The Heat pass lists stacks, each stack's resources,
and makes one get per resource. `--no-store` lists only. Prints one JSON line of counts.
"""
import argparse
import json
import sys
import time
import uuid

import openstack

KINDS = [
    ("Instance", lambda c: c.compute.servers(details=True, all_projects=True)),
    ("Flavor", lambda c: c.compute.flavors(details=True, is_public=None)),
    ("KeyPair", lambda c: c.compute.keypairs()),
    ("ServerGroup", lambda c: c.compute.server_groups(all_projects=True)),
    ("Hypervisor", lambda c: c.compute.hypervisors(details=True)),
    ("Image", lambda c: c.image.images()),
    ("Network", lambda c: c.network.networks()),
    ("Subnet", lambda c: c.network.subnets()),
    ("Port", lambda c: c.network.ports()),
    ("Router", lambda c: c.network.routers()),
    ("FloatingIP", lambda c: c.network.ips()),
    ("SecurityGroup", lambda c: c.network.security_groups()),
    ("SecurityGroupRule", lambda c: c.network.security_group_rules()),
    ("Volume", lambda c: c.block_storage.volumes(details=True, all_projects=True)),
    ("VolumeSnapshot", lambda c: c.block_storage.snapshots(details=True, all_projects=True)),
    ("Project", lambda c: c.identity.projects()),
]

# The same 13 types as syncer's default `[heat.resources]` map.
HEAT_MAP = {
    "OS::Nova::Server": ("Instance", lambda c, i: c.compute.get_server(i)),
    "OS::Nova::Flavor": ("Flavor", lambda c, i: c.compute.get_flavor(i)),
    "OS::Nova::KeyPair": ("KeyPair", lambda c, i: c.compute.get_keypair(i)),
    "OS::Glance::Image": ("Image", lambda c, i: c.image.get_image(i)),
    "OS::Keystone::Project": ("Project", lambda c, i: c.identity.get_project(i)),
    "OS::Neutron::Port": ("Port", lambda c, i: c.network.get_port(i)),
    "OS::Neutron::Net": ("Network", lambda c, i: c.network.get_network(i)),
    "OS::Neutron::Subnet": ("Subnet", lambda c, i: c.network.get_subnet(i)),
    "OS::Neutron::Router": ("Router", lambda c, i: c.network.get_router(i)),
    "OS::Neutron::FloatingIP": ("FloatingIP", lambda c, i: c.network.get_ip(i)),
    "OS::Neutron::SecurityGroup": ("SecurityGroup", lambda c, i: c.network.get_security_group(i)),
    "OS::Neutron::SecurityGroupRule": ("SecurityGroupRule", lambda c, i: c.network.get_security_group_rule(i)),
    "OS::Cinder::Volume": ("Volume", lambda c, i: c.block_storage.get_volume(i)),
}


def sync(db, collection, source, items, counts):
    """The Python syncer's reconcile: one find, then one write per changed document."""
    if db is None:
        counts["listed"] += len(items)
        return
    coll = db[collection]
    # The index a deployment of the Python syncer had; without it every update and
    # retirement below is a collection scan.
    coll.create_index([("source", 1), ("reference_id", 1)], unique=True)
    known = {d["reference_id"]: d for d in coll.find({"source": source}, {"_id": 0, "reference_id": 1, "cloud_meta": 1, "active": 1})}
    seen = set()
    now = time.time()
    for ref, meta in items:
        counts["listed"] += 1
        if ref in seen:
            continue  # listed twice (a resource two stacks share): keep the first
        seen.add(ref)
        old = known.get(ref)
        if old is None:
            coll.insert_one({"uuid": str(uuid.uuid4()), "reference_id": ref, "source": source, "active": 1, "created_at": now, "cloud_meta": meta})
            counts["inserted"] += 1
        elif old.get("cloud_meta") != meta or old.get("active") != 1:
            coll.update_one({"reference_id": ref, "source": source}, {"$set": {"cloud_meta": meta, "active": 1, "updated_at": now}})
            counts["updated"] += 1
    for ref, old in known.items():
        if ref not in seen and old.get("active") == 1:
            coll.update_one({"reference_id": ref, "source": source}, {"$set": {"active": -1, "terminated_at": now}})
            counts["retired"] += 1


def heat_get(conn, path, **params):
    """A Heat listing asked directly. openstacksdk drops query parameters its resource
    classes do not declare, and Stack lacks `global_tenant` while Resource lacks
    `nested_depth`: through the proxy, only the admin project's stacks and no nested
    stack's resources would be seen. The Python syncer used heatclient's equivalents."""
    reply = conn.orchestration.get(path, params=params)
    reply.raise_for_status()
    return reply.json()


def all_stacks(conn):
    """Every project's stacks, by marker."""
    marker = None
    while True:
        params = {"global_tenant": "True", "limit": 1000}
        if marker:
            params["marker"] = marker
        stacks = heat_get(conn, "/stacks", **params)["stacks"]
        if not stacks:
            return
        yield from stacks
        marker = stacks[-1]["id"]


FLOOR_PATHS = [
    ("compute", "/servers/detail?all_tenants=1&limit=500"), ("compute", "/flavors/detail?is_public=None&limit=500"),
    ("compute", "/os-keypairs?limit=500"), ("compute", "/os-server-groups?all_projects=True&limit=500"),
    ("compute", "/os-hypervisors/detail?limit=500"), ("image", "/v2/images?limit=500"),
    ("network", "/v2.0/networks?limit=500"), ("network", "/v2.0/subnets?limit=500"), ("network", "/v2.0/ports?limit=500"),
    ("network", "/v2.0/routers?limit=500"), ("network", "/v2.0/floatingips?limit=500"),
    ("network", "/v2.0/security-groups?limit=500"), ("network", "/v2.0/security-group-rules?limit=500"),
    ("volumev3", "/volumes/detail?all_tenants=1&limit=500"), ("volumev3", "/snapshots/detail?all_tenants=1&limit=500"),
    ("identity", "/projects?limit=500"),
]


def floor(a):
    """The floor: one plain HTTP client fetching the listing pages syncer asks for (500
    items, its default page size), parsing each body."""
    import requests
    s = requests.Session()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": a.password}}},
                     "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    r = s.post(a.auth_url + "/auth/tokens", json=body)
    s.headers["X-Auth-Token"] = r.headers["X-Subject-Token"]
    catalog = {e["type"]: [x["url"] for x in e["endpoints"] if x["interface"] == "public"][0] for e in r.json()["token"]["catalog"]}
    listed = 0
    for service, path in FLOOR_PATHS:
        url = catalog[service] + path
        while url:
            page = s.get(url).json()
            items = next((v for k, v in page.items() if isinstance(v, list) and not k.endswith("_links")), [])
            listed += len(items)
            nxt = None
            for k, v in page.items():
                if k.endswith("_links") and isinstance(v, list):
                    nxt = next((l["href"] for l in v if l.get("rel") == "next"), None)
            if isinstance(page.get("next"), str):
                nxt = catalog[service] + page["next"]
            if isinstance(page.get("links"), dict) and page["links"].get("next"):
                nxt = page["links"]["next"]
            url = nxt if items else None
    json.dump({"listed": listed, "inserted": 0, "updated": 0, "retired": 0}, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--auth-url", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mongo-uri")
    p.add_argument("--database", default="baseline")
    p.add_argument("--heat", action="store_true", help="the Heat pass instead of the listings")
    p.add_argument("--floor", action="store_true", help="plain HTTP: fetch the listing pages, nothing else")
    a = p.parse_args()
    if a.floor:
        floor(a)
        return
    conn = openstack.connect(auth_url=a.auth_url, username="admin", password=a.password, project_name="admin",
                             user_domain_name="Default", project_domain_name="Default", region_name="RegionOne")
    db = None
    if a.mongo_uri:
        import pymongo
        db = pymongo.MongoClient(a.mongo_uri)[a.database]
    counts = {"listed": 0, "inserted": 0, "updated": 0, "retired": 0}
    if not a.heat:
        for collection, lister in KINDS:
            items = [(str(r.id), r.to_dict(computed=False)) for r in lister(conn)]
            sync(db, collection, "sync", items, counts)
    else:
        found = {}
        for stack in all_stacks(conn):
            found.setdefault("Stack", []).append((stack["id"], stack))
            path = "/stacks/%s/%s/resources" % (stack["stack_name"], stack["id"])
            for res in heat_get(conn, path, nested_depth=5)["resources"]:
                kind = HEAT_MAP.get(res["resource_type"])
                if kind is None or not res.get("physical_resource_id"):
                    continue
                try:
                    detail = kind[1](conn, res["physical_resource_id"])
                except openstack.exceptions.ResourceNotFound:
                    continue
                found.setdefault(kind[0], []).append((str(detail.id), detail.to_dict(computed=False)))
        for collection, items in found.items():
            sync(db, collection, "stack", items, counts)
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()
