//! The generated inventory: compact records with cross-service references.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::util::{hex32, hexn, uuid, FxMap, EPOCH_2024};

/// Every kind of resource the test cloud serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Project,
    Server,
    Flavor,
    Keypair,
    ServerGroup,
    Hypervisor,
    Image,
    Network,
    Subnet,
    Port,
    Router,
    FloatingIp,
    SecurityGroup,
    SecurityGroupRule,
    Volume,
    Snapshot,
    Stack,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Project,
        Kind::Server,
        Kind::Flavor,
        Kind::Keypair,
        Kind::ServerGroup,
        Kind::Hypervisor,
        Kind::Image,
        Kind::Network,
        Kind::Subnet,
        Kind::Port,
        Kind::Router,
        Kind::FloatingIp,
        Kind::SecurityGroup,
        Kind::SecurityGroupRule,
        Kind::Volume,
        Kind::Snapshot,
        Kind::Stack,
    ];
    pub fn idx(self) -> usize {
        self as usize
    }
    fn tag(self) -> u64 {
        self as u64 + 100
    }
}

/// Explicit resource counts. `Counts::for_size` gives realistic proportions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Projects including the admin project.
    pub projects: usize,
    pub servers: usize,
    pub flavors: usize,
    pub keypairs: usize,
    pub server_groups: usize,
    pub hypervisors: usize,
    pub images: usize,
    /// Networks including the external `public` network.
    pub networks: usize,
    pub subnets: usize,
    /// Ports: one per server first, then router interfaces, DHCP ports, then extra server ports.
    pub ports: usize,
    pub routers: usize,
    pub floating_ips: usize,
    pub security_groups: usize,
    pub security_group_rules: usize,
    pub volumes: usize,
    pub snapshots: usize,
    /// Top-level stacks (nested stacks are created in addition).
    pub stacks: usize,
    pub resources_per_stack: usize,
}

impl Counts {
    /// Proportions for `size` servers.
    pub fn for_size(size: usize) -> Counts {
        let s = size.max(1);
        let projects = (s / 100).clamp(2, 200);
        Counts {
            projects,
            servers: s,
            flavors: 12,
            keypairs: (s / 20).max(2),
            server_groups: (s / 50).max(1),
            hypervisors: (s / 40).max(1),
            images: (s / 10).max(2),
            networks: (s / 4).max(2),
            subnets: (s / 4).max(2),
            ports: s * 5 / 2,
            routers: (s / 20).max(1),
            floating_ips: (s / 4).max(1),
            security_groups: projects * 2,
            security_group_rules: projects * 8,
            volumes: (s / 2).max(1),
            snapshots: (s / 4).max(1),
            stacks: (s / 20).max(1),
            resources_per_stack: 10,
        }
    }

    /// The benchmark shape: 20k servers, 100k ports, 5k networks and subnets, 2k images,
    /// 10k volumes, 1k stacks x 10 resources, 200 projects.
    pub fn benchmark() -> Counts {
        Counts {
            projects: 200,
            servers: 20_000,
            ports: 100_000,
            networks: 5_000,
            subnets: 5_000,
            images: 2_000,
            volumes: 10_000,
            snapshots: 5_000,
            stacks: 1_000,
            resources_per_stack: 10,
            ..Counts::for_size(20_000)
        }
    }
}

#[derive(Clone, Debug)]
pub enum Device {
    None,
    Server(u32),
    Router(u32),
    Dhcp,
}

/// What a Heat resource's physical_resource_id points at.
#[derive(Clone, Debug)]
pub enum Phys {
    /// Empty (resource still in progress).
    Empty,
    /// A resource served by another service (or a nested stack).
    Ref(Kind, u32),
    /// An opaque value (e.g. OS::Heat::RandomString).
    Text(String),
}

#[derive(Clone, Debug)]
pub struct StackRes {
    pub name: String,
    pub rtype: String,
    pub phys: Phys,
    pub status: String,
}

#[derive(Clone, Debug)]
pub enum Data {
    None,
    Server {
        flavor: u32,
        image: Option<u32>,
        ports: Vec<u32>,
        volumes: Vec<u32>,
        hypervisor: u32,
        keypair: Option<u32>,
    },
    Flavor {
        vcpus: u32,
        ram: u32,
        disk: u32,
    },
    Network {
        subnets: Vec<u32>,
        external: bool,
        shared: bool,
    },
    Subnet {
        network: u32,
        net_no: u32,
        next_host: u32,
    },
    Port {
        network: u32,
        subnet: Option<u32>,
        ip: String,
        mac: String,
        device: Device,
        sgs: Vec<u32>,
    },
    Router {
        gw_network: u32,
        ip: String,
    },
    FloatingIp {
        port: Option<u32>,
        router: Option<u32>,
        network: u32,
        ip: String,
    },
    SecurityGroup {
        rules: Vec<u32>,
    },
    Rule {
        group: u32,
        n: u32,
    },
    Volume {
        server: Option<u32>,
        size: u32,
        bootable: bool,
    },
    Snapshot {
        volume: u32,
        size: u32,
    },
    Image {
        public: bool,
        size: u64,
    },
    ServerGroup {
        policy: &'static str,
    },
    Stack {
        resources: Vec<StackRes>,
        /// (parent stack, owning resource name) for nested stacks.
        parent: Option<(u32, String)>,
    },
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub project: u32,
    pub status: Cow<'static, str>,
    /// Bumped by every change; drives `updated` timestamps and revision numbers.
    pub rev: u32,
    pub deleted: bool,
    pub created: i64,
    pub d: Data,
}

impl Item {
    pub fn updated(&self) -> i64 {
        self.created + 600 + self.rev as i64 * 3600
    }
}

#[derive(Default, Debug)]
pub struct Table {
    pub items: Vec<Item>,
    pub by_id: FxMap<String, u32>,
}

impl Table {
    pub fn get(&self, id: &str) -> Option<(u32, &Item)> {
        let i = *self.by_id.get(id)?;
        let it = &self.items[i as usize];
        (!it.deleted).then_some((i, it))
    }
    pub fn live(&self) -> impl Iterator<Item = (u32, &Item)> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, it)| !it.deleted)
            .map(|(i, it)| (i as u32, it))
    }
}

/// The whole inventory.
#[derive(Debug)]
pub struct Store {
    pub seed: u64,
    pub tables: Vec<Table>,
    pub admin_user_id: String,
    pub resources_per_stack: usize,
    /// [kind][project] -> item indices, for Heat physical-id allocation.
    by_project: FxMap<(Kind, u32), Vec<u32>>,
    cursors: FxMap<(Kind, u32), usize>,
    seq: u64,
}

const FLAVORS: [(&str, u32, u32, u32); 6] = [
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
    ("c1.huge", 16, 65536, 320),
];

const IMAGE_NAMES: [&str; 5] = [
    "cirros-0.6.2-x86_64-disk",
    "ubuntu-24.04-server",
    "debian-12-genericcloud",
    "rocky-9-genericcloud",
    "fedora-coreos-40",
];

/// Heat resource types cycled through by generated stacks.
pub const HEAT_TYPES: [&str; 10] = [
    "OS::Nova::Server",
    "OS::Neutron::Port",
    "OS::Neutron::Net",
    "OS::Neutron::Subnet",
    "OS::Cinder::Volume",
    "OS::Neutron::FloatingIP",
    "OS::Neutron::SecurityGroup",
    "OS::Nova::KeyPair",
    "OS::Heat::RandomString",
    "OS::Heat::Stack",
];

/// The service kind a Heat resource type maps to (None: unmapped).
pub fn heat_type_kind(t: &str) -> Option<Kind> {
    Some(match t {
        "OS::Nova::Server" => Kind::Server,
        "OS::Neutron::Port" => Kind::Port,
        "OS::Neutron::Net" => Kind::Network,
        "OS::Neutron::Subnet" => Kind::Subnet,
        "OS::Cinder::Volume" => Kind::Volume,
        "OS::Neutron::FloatingIP" => Kind::FloatingIp,
        "OS::Neutron::SecurityGroup" => Kind::SecurityGroup,
        "OS::Nova::KeyPair" => Kind::Keypair,
        "OS::Heat::Stack" | "server_group.yaml" => Kind::Stack,
        _ => return None,
    })
}

impl Store {
    pub fn table(&self, k: Kind) -> &Table {
        &self.tables[k.idx()]
    }
    fn table_mut(&mut self, k: Kind) -> &mut Table {
        &mut self.tables[k.idx()]
    }
    pub fn item(&self, k: Kind, i: u32) -> &Item {
        &self.tables[k.idx()].items[i as usize]
    }
    pub fn project_id(&self, p: u32) -> &str {
        &self.item(Kind::Project, p).id
    }
    pub fn projects(&self) -> u32 {
        self.table(Kind::Project).items.len() as u32
    }

    fn push(&mut self, k: Kind, it: Item) -> u32 {
        let t = self.table_mut(k);
        let i = t.items.len() as u32;
        t.by_id.insert(it.id.clone(), i);
        let p = it.project;
        t.items.push(it);
        self.by_project.entry((k, p)).or_default().push(i);
        i
    }

    fn base(&self, k: Kind, i: u64, project: u32, name: String, status: &'static str) -> Item {
        let id = match k {
            Kind::Project => hex32(self.seed, k.tag(), i),
            Kind::Flavor => (i + 1).to_string(),
            _ => uuid(self.seed, k.tag(), i),
        };
        Item {
            id,
            name,
            project,
            status: Cow::Borrowed(status),
            rev: 0,
            deleted: false,
            created: EPOCH_2024 + (crate::util::h(self.seed, k.tag(), i, 7) % 31_536_000) as i64,
            d: Data::None,
        }
    }

    fn rnd(&self, k: Kind, i: u64, salt: u64) -> u64 {
        crate::util::h(self.seed, k.tag(), i, salt)
    }

    fn proj_of(&self, i: usize) -> u32 {
        (i as u32) % self.projects()
    }

    fn first_in_project(&self, k: Kind, p: u32) -> Option<u32> {
        self.by_project
            .get(&(k, p))
            .and_then(|v| v.iter().copied().find(|&i| !self.item(k, i).deleted))
    }

    fn pick_in_project(&self, k: Kind, p: u32, n: u64) -> Option<u32> {
        let v = self.by_project.get(&(k, p))?;
        if v.is_empty() {
            return None;
        }
        Some(v[(n % v.len() as u64) as usize])
    }

    /// Generate the inventory for `counts`.
    pub fn generate(seed: u64, c: &Counts) -> Store {
        let mut s = Store {
            seed,
            tables: Kind::ALL.iter().map(|_| Table::default()).collect(),
            admin_user_id: hex32(seed, 1, 0),
            resources_per_stack: c.resources_per_stack,
            by_project: FxMap::default(),
            cursors: FxMap::default(),
            seq: 0,
        };
        for i in 0..c.projects.max(1) {
            let name = if i == 0 {
                "admin".to_string()
            } else {
                format!("project-{i:04}")
            };
            let it = s.base(Kind::Project, i as u64, 0, name, "ACTIVE");
            s.push(Kind::Project, it);
        }
        let counts = [
            (Kind::Flavor, c.flavors.max(1)),
            (Kind::Hypervisor, c.hypervisors.max(1)),
            (Kind::Keypair, c.keypairs),
            (Kind::Image, c.images),
            (Kind::Network, c.networks.max(1)),
            (Kind::Subnet, c.subnets),
            (Kind::SecurityGroup, c.security_groups),
            (Kind::SecurityGroupRule, c.security_group_rules),
            (Kind::Router, c.routers),
            (Kind::Server, c.servers),
            (Kind::Port, c.ports),
            (Kind::FloatingIp, c.floating_ips),
            (Kind::Volume, c.volumes),
            (Kind::Snapshot, c.snapshots),
            (Kind::ServerGroup, c.server_groups),
            (Kind::Stack, c.stacks),
        ];
        for &(k, n) in &counts {
            let t = s.table_mut(k);
            t.items.reserve(n);
            t.by_id.reserve(n);
        }
        s.by_project.reserve(counts.len() * c.projects.max(1));
        for (k, n) in counts {
            for _ in 0..n {
                s.make(k, None);
            }
        }
        s
    }

    /// Create one more item of kind `k` (in `project` or the round-robin one); returns its index.
    pub fn make(&mut self, k: Kind, project: Option<u32>) -> u32 {
        let i = self.table(k).items.len();
        let gi = i as u64;
        let p = project.unwrap_or_else(|| self.proj_of(i));
        match k {
            Kind::Project => {
                let it = self.base(k, gi, 0, format!("project-{i:04}"), "ACTIVE");
                self.push(k, it)
            }
            Kind::Flavor => {
                let (n, vc, ram, disk) = FLAVORS[i % FLAVORS.len()];
                let name = if i < FLAVORS.len() {
                    n.to_string()
                } else {
                    format!("{n}.v{}", i / FLAVORS.len())
                };
                let mut it = self.base(k, gi, 0, name, "ACTIVE");
                it.d = Data::Flavor {
                    vcpus: vc,
                    ram,
                    disk,
                };
                self.push(k, it)
            }
            Kind::Hypervisor => {
                let it = self.base(
                    k,
                    gi,
                    0,
                    format!("compute-{:04}.cloud.test", i + 1),
                    "enabled",
                );
                self.push(k, it)
            }
            Kind::Keypair => {
                // Keypairs belong to the admin user; they are addressed by name.
                let mut it = self.base(k, gi, 0, format!("key-{i:05}"), "ACTIVE");
                it.id = it.name.clone();
                self.push(k, it)
            }
            Kind::Image => {
                let name = format!("{}-{i}", IMAGE_NAMES[i % IMAGE_NAMES.len()]);
                let mut it = self.base(k, gi, p, name, "active");
                it.d = Data::Image {
                    public: i.is_multiple_of(3),
                    size: 12_000_000 + self.rnd(k, gi, 5) % 2_000_000_000,
                };
                self.push(k, it)
            }
            Kind::Network => {
                let (p, name, ext) = if i == 0 {
                    (0, "public".to_string(), true)
                } else {
                    (p, format!("net-{i:05}"), false)
                };
                let mut it = self.base(k, gi, p, name, "ACTIVE");
                it.d = Data::Network {
                    subnets: vec![],
                    external: ext,
                    shared: ext,
                };
                self.push(k, it)
            }
            Kind::Subnet => {
                let nets = self.table(Kind::Network).items.len();
                let net = (i % nets) as u32;
                let np = self.item(Kind::Network, net).project;
                let mut it = self.base(k, gi, np, format!("subnet-{i:05}"), "ACTIVE");
                it.d = Data::Subnet {
                    network: net,
                    net_no: i as u32,
                    next_host: 10,
                };
                let si = self.push(k, it);
                if let Data::Network { subnets, .. } =
                    &mut self.table_mut(Kind::Network).items[net as usize].d
                {
                    subnets.push(si);
                }
                si
            }
            Kind::SecurityGroup => {
                let np = self.projects() as usize;
                let name = if i < np {
                    "default".to_string()
                } else {
                    format!("sg-{i:05}")
                };
                let mut it = self.base(k, gi, p, name, "ACTIVE");
                it.d = Data::SecurityGroup { rules: vec![] };
                self.push(k, it)
            }
            Kind::SecurityGroupRule => {
                let groups = self.table(Kind::SecurityGroup).items.len();
                if groups == 0 {
                    let mut it = self.base(k, gi, p, String::new(), "ACTIVE");
                    it.deleted = true;
                    return self.push(k, it);
                }
                let g = (i % groups) as u32;
                let gp = self.item(Kind::SecurityGroup, g).project;
                let mut it = self.base(k, gi, gp, String::new(), "ACTIVE");
                it.d = Data::Rule {
                    group: g,
                    n: i as u32,
                };
                let ri = self.push(k, it);
                if let Data::SecurityGroup { rules } =
                    &mut self.table_mut(Kind::SecurityGroup).items[g as usize].d
                {
                    rules.push(ri);
                }
                ri
            }
            Kind::Router => {
                let mut it = self.base(k, gi, p, format!("router-{i:05}"), "ACTIVE");
                it.d = Data::Router {
                    gw_network: 0,
                    ip: format!("172.24.{}.{}", 4 + (i / 250) % 200, 2 + i % 250),
                };
                self.push(k, it)
            }
            Kind::Server => {
                let status = match self.rnd(k, gi, 9) % 20 {
                    0 => "SHUTOFF",
                    1 => "ERROR",
                    2 => "BUILD",
                    _ => "ACTIVE",
                };
                let mut it = self.base(k, gi, p, format!("server-{i:06}"), status);
                let nf = self.table(Kind::Flavor).items.len() as u64;
                let ni = self.table(Kind::Image).items.len() as u64;
                let nh = self.table(Kind::Hypervisor).items.len() as u64;
                let nk = self.table(Kind::Keypair).items.len() as u64;
                it.d = Data::Server {
                    flavor: (self.rnd(k, gi, 10) % nf) as u32,
                    // every 10th server boots from a volume (image "").
                    image: (i % 10 != 9 && ni > 0).then(|| (self.rnd(k, gi, 11) % ni) as u32),
                    ports: vec![],
                    volumes: vec![],
                    hypervisor: (self.rnd(k, gi, 12) % nh) as u32,
                    keypair: (nk > 0).then(|| (self.rnd(k, gi, 13) % nk) as u32),
                };
                self.push(k, it)
            }
            Kind::Port => self.make_port(i, project),
            Kind::FloatingIp => {
                // Half of the floating IPs are associated with a server port of the project.
                let port = if i.is_multiple_of(2) {
                    self.first_server_port(p, gi)
                } else {
                    None
                };
                let router = self.first_in_project(Kind::Router, p);
                let mut it = self.base(
                    k,
                    gi,
                    p,
                    String::new(),
                    if port.is_some() { "ACTIVE" } else { "DOWN" },
                );
                it.d = Data::FloatingIp {
                    port,
                    router: port.and(router),
                    network: 0,
                    ip: format!(
                        "172.{}.{}.{}",
                        25 + (i / 62_500) % 6,
                        (i / 250) % 250,
                        2 + i % 250
                    ),
                };
                self.push(k, it)
            }
            Kind::Volume => {
                let server = if i.is_multiple_of(2) {
                    self.pick_in_project(Kind::Server, p, gi / 2)
                } else {
                    None
                };
                let status = if server.is_some() {
                    "in-use"
                } else {
                    "available"
                };
                let mut it = self.base(k, gi, p, format!("volume-{i:06}"), status);
                it.d = Data::Volume {
                    server,
                    size: 1 + (self.rnd(k, gi, 5) % 200) as u32,
                    bootable: i.is_multiple_of(5),
                };
                let vi = self.push(k, it);
                if let Some(sv) = server {
                    if let Data::Server { volumes, .. } =
                        &mut self.table_mut(Kind::Server).items[sv as usize].d
                    {
                        volumes.push(vi);
                    }
                }
                vi
            }
            Kind::Snapshot => {
                let nv = self.table(Kind::Volume).items.len();
                let (vol, vp, size) = if nv == 0 {
                    (0, p, 1)
                } else {
                    let v = (i % nv) as u32;
                    let vit = self.item(Kind::Volume, v);
                    let size = match vit.d {
                        Data::Volume { size, .. } => size,
                        _ => 1,
                    };
                    (v, vit.project, size)
                };
                let mut it = self.base(k, gi, vp, format!("snapshot-{i:06}"), "available");
                it.d = Data::Snapshot { volume: vol, size };
                self.push(k, it)
            }
            Kind::ServerGroup => {
                let mut it = self.base(k, gi, p, format!("group-{i:05}"), "ACTIVE");
                it.d = Data::ServerGroup {
                    policy: ["anti-affinity", "affinity", "soft-anti-affinity"][i % 3],
                };
                self.push(k, it)
            }
            Kind::Stack => self.make_stack(i, p, None, 0),
        }
    }

    fn first_server_port(&self, p: u32, n: u64) -> Option<u32> {
        let sv = self.pick_in_project(Kind::Server, p, n)?;
        match &self.item(Kind::Server, sv).d {
            Data::Server { ports, .. } => ports.first().copied(),
            _ => None,
        }
    }

    fn net_for_project(&self, p: u32, n: u64) -> u32 {
        self.pick_in_project(Kind::Network, p, n).unwrap_or(0)
    }

    fn alloc_ip(&mut self, net: u32) -> (Option<u32>, String) {
        let sub = match &self.item(Kind::Network, net).d {
            Data::Network { subnets, .. } => subnets.first().copied(),
            _ => None,
        };
        let Some(sub) = sub else {
            return (None, String::new());
        };
        if let Data::Subnet {
            net_no, next_host, ..
        } = &mut self.table_mut(Kind::Subnet).items[sub as usize].d
        {
            let h = *next_host;
            *next_host += 1;
            (Some(sub), subnet_host(*net_no, h))
        } else {
            (None, String::new())
        }
    }

    fn make_port(&mut self, i: usize, project: Option<u32>) -> u32 {
        let k = Kind::Port;
        let gi = i as u64;
        let ns = self.table(Kind::Server).items.len();
        let nr = self.table(Kind::Router).items.len();
        let nn = self.table(Kind::Network).items.len();
        // Which device does port i belong to?
        let device = if project.is_some() {
            Device::None
        } else if i < ns {
            Device::Server(i as u32)
        } else if i - ns < nr {
            Device::Router((i - ns) as u32)
        } else if i - ns - nr < nn {
            Device::Dhcp
        } else if ns > 0 {
            Device::Server(((i - ns - nr - nn) % ns) as u32)
        } else {
            Device::None
        };
        let (p, net) = match &device {
            Device::Server(s) => {
                let p = self.item(Kind::Server, *s).project;
                (p, self.net_for_project(p, *s as u64))
            }
            Device::Router(r) => {
                let p = self.item(Kind::Router, *r).project;
                (p, self.net_for_project(p, *r as u64))
            }
            Device::Dhcp => {
                let net = (i - ns - nr) as u32;
                (self.item(Kind::Network, net).project, net)
            }
            Device::None => {
                let p = project.unwrap_or_else(|| self.proj_of(i));
                (p, self.net_for_project(p, gi))
            }
        };
        let (subnet, ip) = self.alloc_ip(net);
        let sgs = match device {
            Device::Server(_) => self
                .first_in_project(Kind::SecurityGroup, p)
                .into_iter()
                .collect(),
            _ => vec![],
        };
        let r = self.rnd(k, gi, 4);
        let mac = format!(
            "fa:16:3e:{:02x}:{:02x}:{:02x}",
            (r >> 16) & 0xff,
            (r >> 8) & 0xff,
            r & 0xff
        );
        let status = if matches!(device, Device::None) {
            "DOWN"
        } else {
            "ACTIVE"
        };
        let mut it = self.base(k, gi, p, String::new(), status);
        let server = match device {
            Device::Server(s) => Some(s),
            _ => None,
        };
        it.d = Data::Port {
            network: net,
            subnet,
            ip,
            mac,
            device,
            sgs,
        };
        let pi = self.push(k, it);
        if let Some(s) = server {
            if let Data::Server { ports, .. } =
                &mut self.table_mut(Kind::Server).items[s as usize].d
            {
                ports.push(pi);
            }
        }
        pi
    }

    /// Allocate a physical resource of kind `k` in project `p` for a stack (distinct while they last).
    fn alloc_phys(&mut self, k: Kind, p: u32) -> Option<u32> {
        let len = self.by_project.get(&(k, p)).map(|v| v.len()).unwrap_or(0);
        if len == 0 {
            return None;
        }
        let c = self.cursors.entry((k, p)).or_insert(0);
        let n = *c;
        *c += 1;
        let i = self.by_project[&(k, p)][n % len];
        (!self.item(k, i).deleted).then_some(i)
    }

    fn make_stack(&mut self, i: usize, p: u32, parent: Option<(u32, String)>, depth: u32) -> u32 {
        let k = Kind::Stack;
        self.seq += 1;
        let gi = i as u64;
        let nested = parent.is_some();
        let name = match &parent {
            None => format!("stack-{i:05}"),
            Some((ps, rname)) => format!(
                "{}-{}-{}",
                self.item(k, *ps).name,
                rname,
                hexn(self.seed, 77, gi, 12)
            ),
        };
        let in_progress = !nested && i % 7 == 3;
        let status = if in_progress {
            "CREATE_IN_PROGRESS"
        } else {
            "CREATE_COMPLETE"
        };
        let mut it = self.base(k, gi, p, name, status);
        it.d = Data::Stack {
            resources: vec![],
            parent: parent.clone(),
        };
        let si = self.push(k, it);
        if nested {
            // Nested stacks are not listed with the top-level ones.
            if let Some(v) = self.by_project.get_mut(&(k, p)) {
                v.pop();
            }
        }
        let types: Vec<&str> = if nested {
            if depth < 2 && i.is_multiple_of(3) {
                vec![
                    "OS::Nova::Server",
                    "OS::Neutron::Port",
                    "OS::Heat::RandomString",
                    "server_group.yaml",
                ]
            } else {
                vec![
                    "OS::Nova::Server",
                    "OS::Neutron::Port",
                    "OS::Heat::RandomString",
                ]
            }
        } else {
            (0..self.resources_per_stack)
                .map(|j| HEAT_TYPES[(j + i) % HEAT_TYPES.len()])
                .collect()
        };
        let n = types.len();
        let mut res = Vec::with_capacity(n);
        for (j, t) in types.into_iter().enumerate() {
            let rname = match t {
                "OS::Nova::Server" => format!("server_{j}"),
                "OS::Neutron::Port" => format!("port_{j}"),
                "OS::Neutron::Net" => format!("net_{j}"),
                "OS::Neutron::Subnet" => format!("subnet_{j}"),
                "OS::Cinder::Volume" => format!("volume_{j}"),
                "OS::Neutron::FloatingIP" => format!("fip_{j}"),
                "OS::Neutron::SecurityGroup" => format!("secgroup_{j}"),
                "OS::Nova::KeyPair" => format!("keypair_{j}"),
                "OS::Heat::RandomString" => format!("random_{j}"),
                _ => format!("nested_{j}"),
            };
            if in_progress && j == n - 1 {
                res.push(StackRes {
                    name: rname,
                    rtype: t.to_string(),
                    phys: Phys::Empty,
                    status: "CREATE_IN_PROGRESS".into(),
                });
                continue;
            }
            let (rtype, phys) = match heat_type_kind(t) {
                Some(Kind::Stack) => {
                    let child_i = self.table(k).items.len();
                    let c = self.make_stack(child_i, p, Some((si, rname.clone())), depth + 1);
                    (t.to_string(), Phys::Ref(Kind::Stack, c))
                }
                Some(kind) => match self.alloc_phys(kind, p) {
                    Some(x) => (t.to_string(), Phys::Ref(kind, x)),
                    None => (
                        "OS::Heat::RandomString".to_string(),
                        Phys::Text(hexn(self.seed, 78, gi * 64 + j as u64, 16)),
                    ),
                },
                None => (
                    t.to_string(),
                    Phys::Text(format!(
                        "{}-{}-{}",
                        self.item(k, si).name,
                        rname,
                        hexn(self.seed, 79, gi * 64 + j as u64, 12)
                    )),
                ),
            };
            res.push(StackRes {
                name: rname,
                rtype,
                phys,
                status: "CREATE_COMPLETE".into(),
            });
        }
        if let Data::Stack { resources, .. } = &mut self.table_mut(k).items[si as usize].d {
            *resources = res;
        }
        si
    }

    // ---- mutation ----

    fn idx_of(&self, k: Kind, id: &str) -> Option<u32> {
        self.table(k).get(id).map(|(i, _)| i)
    }

    pub fn rename(&mut self, k: Kind, id: &str, name: &str) -> bool {
        let Some(i) = self.idx_of(k, id) else {
            return false;
        };
        let it = &mut self.table_mut(k).items[i as usize];
        it.name = name.to_string();
        it.rev += 1;
        true
    }

    pub fn set_status(&mut self, k: Kind, id: &str, status: &str) -> bool {
        let Some(i) = self.idx_of(k, id) else {
            return false;
        };
        let it = &mut self.table_mut(k).items[i as usize];
        it.status = Cow::Owned(status.to_string());
        it.rev += 1;
        true
    }

    /// Delete an item. Deleting a stack deletes its nested stacks and the resources it owns.
    pub fn delete(&mut self, k: Kind, id: &str) -> bool {
        let Some(i) = self.idx_of(k, id) else {
            return false;
        };
        self.delete_idx(k, i);
        true
    }

    fn delete_idx(&mut self, k: Kind, i: u32) {
        let it = &mut self.table_mut(k).items[i as usize];
        if it.deleted {
            return;
        }
        it.deleted = true;
        if let Data::Stack { resources, .. } = it.d.clone() {
            for r in resources {
                if let Phys::Ref(rk, ri) = r.phys {
                    self.delete_idx(rk, ri);
                }
            }
        }
    }

    /// Add a new item of kind `k` (in `project`, or a round-robin one). Returns its id.
    pub fn add(&mut self, k: Kind, project: Option<u32>) -> String {
        let i = self.make(k, project);
        // Ports made through `add` are unbound; a server made through `add` gets one port.
        if k == Kind::Server {
            let p = self.item(k, i).project;
            let pi = self.make(Kind::Port, Some(p));
            let pt = &mut self.table_mut(Kind::Port).items[pi as usize];
            if let Data::Port { device, .. } = &mut pt.d {
                *device = Device::Server(i);
            }
            pt.status = Cow::Borrowed("ACTIVE");
            if let Data::Server { ports, .. } = &mut self.table_mut(k).items[i as usize].d {
                ports.push(pi);
            }
        }
        self.item(k, i).id.clone()
    }
}

/// `10.a.b.h` for subnet number `n` (a /24 per subnet; hosts wrap after 250).
pub fn subnet_host(n: u32, h: u32) -> String {
    format!("10.{}.{}.{}", (n >> 8) & 0xff, n & 0xff, 2 + h % 250)
}

pub fn subnet_cidr(n: u32) -> String {
    format!("10.{}.{}.0/24", (n >> 8) & 0xff, n & 0xff)
}
