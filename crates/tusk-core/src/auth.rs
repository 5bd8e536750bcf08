//! Pachyderm's auth vocabulary and rules: subjects, permissions, resources,
//! the 18 roles, and permission evaluation (docs/auth-model.md §2–§5).
//!
//! Evaluation is the hot path of every authorized RPC, so roles are
//! compiled once into permission bitsets and a check is a few set unions
//! over in-memory bindings: no allocation per role, no storage access.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use crate::wire_text;

pub const ALL_CLUSTER_USERS: &str = "allClusterUsers";

const PREFIXES: &[&str] = &["pipeline", "internal", "robot", "pach", "user", "group"];

/// Longest principal (subject or group) tusk stores: far above any real
/// email or group name, far below what would bloat every binding.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// Longest project, repo or robot name (each part of `project/repo`),
/// the bound of the names PFS accepts.
pub const MAX_NAME_BYTES: usize = 255;

/// The error for a value over a size limit. It never quotes the value,
/// which may be megabytes long.
pub fn too_long(what: &str, len: usize, limit: usize) -> String {
    format!("{what} is {len} bytes long, over the limit of {limit} bytes; use a shorter name")
}

/// Checks a subject the way the reference does, with its byte-exact error
/// texts (clients match on them), plus tusk's refusal of an empty name and
/// of an oversized one (checked first, so no message quotes megabytes).
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.len() > MAX_SUBJECT_BYTES {
        return Err(too_long("subject", subject.len(), MAX_SUBJECT_BYTES));
    }
    if subject == ALL_CLUSTER_USERS {
        return Ok(());
    }
    let Some((prefix, name)) = subject.split_once(':') else {
        return Err("subject has no prefix, must be of the form <type>:<name>".into());
    };
    if !PREFIXES.contains(&prefix) {
        return Err(format!("subject has unrecognized prefix: {prefix}:"));
    }
    if name.is_empty() {
        return Err(format!(
            "subject `{subject}` has an empty name after the prefix"
        ));
    }
    Ok(())
}

/// Declares each permission once: a `Permission::NAME` constant, so a
/// misspelt permission in a check is a compile error instead of a silent
/// deny, and the [`PERMISSIONS`] table whose wire names are the constants'
/// own names (`stringify!`), so the two cannot drift.
macro_rules! permissions {
    ($($name:ident = $num:literal,)*) => {
        impl Permission {
            $(pub const $name: Permission = Permission($num);)*
        }

        /// Permission numbers and names, exactly as on the wire (docs/wire-api.md §3.2).
        pub const PERMISSIONS: &[(i32, &str)] = &[$(($num, stringify!($name)),)*];
    };
}

permissions! {
    PERMISSION_UNKNOWN = 0,
    CLUSTER_MODIFY_BINDINGS = 100,
    CLUSTER_GET_BINDINGS = 101,
    CLUSTER_AUTH_ACTIVATE = 102,
    CLUSTER_AUTH_DEACTIVATE = 103,
    CLUSTER_AUTH_GET_CONFIG = 104,
    CLUSTER_AUTH_SET_CONFIG = 105,
    CLUSTER_AUTH_MODIFY_GROUP_MEMBERS = 109,
    CLUSTER_AUTH_GET_GROUPS = 110,
    CLUSTER_AUTH_GET_GROUP_USERS = 111,
    CLUSTER_AUTH_EXTRACT_TOKENS = 112,
    CLUSTER_AUTH_RESTORE_TOKEN = 113,
    CLUSTER_ENTERPRISE_ACTIVATE = 114,
    CLUSTER_ENTERPRISE_HEARTBEAT = 115,
    CLUSTER_ENTERPRISE_GET_CODE = 116,
    CLUSTER_ENTERPRISE_DEACTIVATE = 117,
    CLUSTER_IDENTITY_SET_CONFIG = 118,
    CLUSTER_IDENTITY_GET_CONFIG = 119,
    CLUSTER_IDENTITY_CREATE_IDP = 120,
    CLUSTER_IDENTITY_UPDATE_IDP = 121,
    CLUSTER_IDENTITY_LIST_IDPS = 122,
    CLUSTER_IDENTITY_GET_IDP = 123,
    CLUSTER_IDENTITY_DELETE_IDP = 124,
    CLUSTER_IDENTITY_CREATE_OIDC_CLIENT = 125,
    CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT = 126,
    CLUSTER_IDENTITY_LIST_OIDC_CLIENTS = 127,
    CLUSTER_IDENTITY_GET_OIDC_CLIENT = 128,
    CLUSTER_IDENTITY_DELETE_OIDC_CLIENT = 129,
    CLUSTER_DEBUG_DUMP = 131,
    CLUSTER_LICENSE_ACTIVATE = 132,
    CLUSTER_LICENSE_GET_CODE = 133,
    CLUSTER_LICENSE_ADD_CLUSTER = 134,
    CLUSTER_LICENSE_UPDATE_CLUSTER = 135,
    CLUSTER_LICENSE_DELETE_CLUSTER = 136,
    CLUSTER_LICENSE_LIST_CLUSTERS = 137,
    CLUSTER_DELETE_ALL = 138,
    CLUSTER_AUTH_GET_ROBOT_TOKEN = 139,
    CLUSTER_AUTH_DELETE_EXPIRED_TOKENS = 140,
    CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL = 141,
    CLUSTER_AUTH_REVOKE_USER_TOKENS = 142,
    CLUSTER_CREATE_SECRET = 143,
    CLUSTER_LIST_SECRETS = 144,
    SECRET_DELETE = 145,
    SECRET_INSPECT = 146,
    CLUSTER_AUTH_ROTATE_ROOT_TOKEN = 147,
    CLUSTER_GET_PACHD_LOGS = 148,
    CLUSTER_ENTERPRISE_PAUSE = 149,
    CLUSTER_GET_LOKI_LOGS = 150,
    CLUSTER_EDIT_CLUSTER_METADATA = 151,
    CLUSTER_SNAPSHOTTER = 152,
    CLUSTER_RESTART_PACHYDERM = 153,
    REPO_READ = 200,
    REPO_WRITE = 201,
    REPO_MODIFY_BINDINGS = 202,
    REPO_DELETE = 203,
    REPO_INSPECT_COMMIT = 204,
    REPO_LIST_COMMIT = 205,
    REPO_DELETE_COMMIT = 206,
    REPO_CREATE_BRANCH = 207,
    REPO_LIST_BRANCH = 208,
    REPO_DELETE_BRANCH = 209,
    REPO_INSPECT_FILE = 210,
    REPO_LIST_FILE = 211,
    REPO_ADD_PIPELINE_READER = 212,
    REPO_REMOVE_PIPELINE_READER = 213,
    REPO_ADD_PIPELINE_WRITER = 214,
    PIPELINE_LIST_JOB = 301,
    CLUSTER_SET_DEFAULTS = 302,
    PROJECT_SET_DEFAULTS = 303,
    PROJECT_CREATE = 400,
    PROJECT_DELETE = 401,
    PROJECT_LIST_REPO = 402,
    PROJECT_CREATE_REPO = 403,
    PROJECT_MODIFY_BINDINGS = 404,
    JOB_SKIP_CTX = 501,
}

/// A permission by its wire number. Unknown numbers are representable (a
/// client may send one) and are simply never granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(pub i32);

impl Permission {
    pub fn name(self) -> &'static str {
        PERMISSIONS
            .iter()
            .find(|(n, _)| *n == self.0)
            .map_or("PERMISSION_UNKNOWN", |(_, name)| name)
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        PERMISSIONS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(num, _)| Permission(*num))
    }

    /// Dense index into a [`PermSet`]; `None` for unknown numbers. A table
    /// lookup, since every check tests permissions against sets.
    fn index(self) -> Option<usize> {
        let n = usize::try_from(self.0).ok()?;
        match PERMISSION_INDEX.get(n) {
            Some(&i) if i != u8::MAX => Some(usize::from(i)),
            _ => None,
        }
    }
}

/// Wire number → position in [`PERMISSIONS`] (`u8::MAX`: unknown), built
/// at compile time; a number past the table would fail the build.
const PERMISSION_INDEX: [u8; 512] = {
    let mut t = [u8::MAX; 512];
    let mut i = 1;
    while i < PERMISSIONS.len() {
        t[PERMISSIONS[i].0 as usize] = i as u8;
        i += 1;
    }
    t
};

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of known permissions as a bitset (there are fewer than 128).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PermSet(u128);

impl PermSet {
    pub fn insert(&mut self, p: Permission) {
        if let Some(i) = p.index() {
            self.0 |= 1 << i;
        }
    }

    pub fn contains(&self, p: Permission) -> bool {
        p.index().is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn union(&mut self, other: PermSet) {
        self.0 |= other.0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Unknown = 0,
    Cluster = 1,
    Repo = 2,
    SpecRepo = 3,
    Project = 4,
    Job = 5,
}

impl ResourceType {
    pub fn from_i32(n: i32) -> Option<ResourceType> {
        Some(match n {
            0 => ResourceType::Unknown,
            1 => ResourceType::Cluster,
            2 => ResourceType::Repo,
            3 => ResourceType::SpecRepo,
            4 => ResourceType::Project,
            5 => ResourceType::Job,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Unknown => "RESOURCE_TYPE_UNKNOWN",
            ResourceType::Cluster => "CLUSTER",
            ResourceType::Repo => "REPO",
            ResourceType::SpecRepo => "SPEC_REPO",
            ResourceType::Project => "PROJECT",
            ResourceType::Job => "JOB",
        }
    }
}

/// A resource: its type and name (`""`, `project`, `project/repo`, job id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    pub kind: ResourceType,
    pub name: String,
}

impl Resource {
    pub fn cluster() -> Resource {
        Resource {
            kind: ResourceType::Cluster,
            name: String::new(),
        }
    }

    /// The storage key of the resource's binding (docs/auth-model.md §3).
    pub fn binding_key(&self) -> String {
        match self.kind {
            ResourceType::Cluster => "CLUSTER:".to_owned(),
            ResourceType::SpecRepo => format!("REPO:{}", self.name),
            other => format!("{}:{}", other.name(), self.name),
        }
    }

    /// The shape of a project or repo name a client may register: a
    /// project is `name`, a repo `project/name`, each part non-empty, at
    /// most [`MAX_NAME_BYTES`], without whitespace or another `/`. The
    /// server's resources API and the CLI both use this one rule.
    pub fn is_valid_name(kind: ResourceType, name: &str) -> bool {
        let part = |n: &str| {
            !n.is_empty()
                && n.len() <= MAX_NAME_BYTES
                && !n.contains(char::is_whitespace)
                && !n.contains('/')
        };
        match kind {
            ResourceType::Project => part(name),
            ResourceType::Repo => name
                .split_once('/')
                .is_some_and(|(p, r)| part(p) && part(r)),
            _ => false,
        }
    }

    /// Refuses a name with a `/`-separated part over [`MAX_NAME_BYTES`].
    pub fn check_name(&self) -> Result<(), String> {
        match self.name.split('/').map(str::len).max() {
            Some(len) if len > MAX_NAME_BYTES => Err(format!(
                "{} name has a part of {len} bytes, over the limit of {MAX_NAME_BYTES} bytes; use a shorter name",
                self.kind.name()
            )),
            _ => Ok(()),
        }
    }

    /// The project a repo belongs to (`project/repo`).
    pub fn project(&self) -> Option<&str> {
        match self.kind {
            ResourceType::Repo | ResourceType::SpecRepo => {
                self.name.split_once('/').map(|(p, _)| p)
            }
            _ => None,
        }
    }
}

pub struct Role {
    pub name: &'static str,
    pub permissions: Vec<Permission>,
    pub perms: PermSet,
    pub can_be_bound_to: &'static [ResourceType],
    pub returned_for: &'static [ResourceType],
}

use ResourceType::{Cluster, Job, Project, Repo};

/// (name, included roles, own permissions, can_be_bound_to, returned_for),
/// in the reference's order (docs/auth-model.md §4).
type RoleDef = (
    &'static str,
    &'static [&'static str],
    &'static [Permission],
    &'static [ResourceType],
    &'static [ResourceType],
);

const ROLE_DEFS: &[RoleDef] = &[
    (
        "repoReader",
        &[],
        &[
            Permission::REPO_READ,
            Permission::REPO_INSPECT_COMMIT,
            Permission::REPO_LIST_COMMIT,
            Permission::REPO_LIST_BRANCH,
            Permission::REPO_LIST_FILE,
            Permission::REPO_INSPECT_FILE,
            Permission::REPO_ADD_PIPELINE_READER,
            Permission::REPO_REMOVE_PIPELINE_READER,
            Permission::PIPELINE_LIST_JOB,
        ],
        &[Cluster, Project, Repo],
        &[Repo],
    ),
    (
        "repoWriter",
        &["repoReader"],
        &[
            Permission::REPO_WRITE,
            Permission::REPO_DELETE_COMMIT,
            Permission::REPO_CREATE_BRANCH,
            Permission::REPO_DELETE_BRANCH,
            Permission::REPO_ADD_PIPELINE_WRITER,
        ],
        &[Cluster, Project, Repo],
        &[Repo],
    ),
    (
        "repoOwner",
        &["repoWriter"],
        &[Permission::REPO_MODIFY_BINDINGS, Permission::REPO_DELETE],
        &[Cluster, Project, Repo],
        &[Repo],
    ),
    (
        "projectViewer",
        &[],
        &[Permission::PROJECT_LIST_REPO],
        &[Cluster, Project],
        &[Project],
    ),
    (
        "projectWriter",
        &["projectViewer"],
        &[Permission::PROJECT_CREATE_REPO],
        &[Cluster, Project],
        &[Project],
    ),
    (
        "projectOwner",
        &["repoOwner", "projectWriter"],
        &[
            Permission::PROJECT_DELETE,
            Permission::PROJECT_MODIFY_BINDINGS,
            Permission::PROJECT_SET_DEFAULTS,
        ],
        &[Cluster, Project],
        &[Project, Repo],
    ),
    (
        "projectCreator",
        &[],
        &[Permission::PROJECT_CREATE],
        &[Cluster],
        &[Cluster],
    ),
    (
        "oidcAppAdmin",
        &[],
        &[
            Permission::CLUSTER_IDENTITY_CREATE_OIDC_CLIENT,
            Permission::CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT,
            Permission::CLUSTER_IDENTITY_DELETE_OIDC_CLIENT,
            Permission::CLUSTER_IDENTITY_LIST_OIDC_CLIENTS,
            Permission::CLUSTER_IDENTITY_GET_OIDC_CLIENT,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "idpAdmin",
        &[],
        &[
            Permission::CLUSTER_IDENTITY_CREATE_IDP,
            Permission::CLUSTER_IDENTITY_UPDATE_IDP,
            Permission::CLUSTER_IDENTITY_DELETE_IDP,
            Permission::CLUSTER_IDENTITY_LIST_IDPS,
            Permission::CLUSTER_IDENTITY_GET_IDP,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "identityAdmin",
        &[],
        &[
            Permission::CLUSTER_IDENTITY_SET_CONFIG,
            Permission::CLUSTER_IDENTITY_GET_CONFIG,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "debugger",
        &[],
        &[
            Permission::CLUSTER_DEBUG_DUMP,
            Permission::CLUSTER_GET_PACHD_LOGS,
            Permission::CLUSTER_GET_LOKI_LOGS,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "lokiLogReader",
        &[],
        &[Permission::CLUSTER_GET_LOKI_LOGS],
        &[Cluster],
        &[Cluster],
    ),
    (
        "pachdLogReader",
        &[],
        &[Permission::CLUSTER_GET_PACHD_LOGS],
        &[Cluster],
        &[Cluster],
    ),
    (
        "robotUser",
        &[],
        &[Permission::CLUSTER_AUTH_GET_ROBOT_TOKEN],
        &[Cluster],
        &[Cluster],
    ),
    (
        "licenseAdmin",
        &[],
        &[
            Permission::CLUSTER_LICENSE_ACTIVATE,
            Permission::CLUSTER_LICENSE_GET_CODE,
            Permission::CLUSTER_LICENSE_ADD_CLUSTER,
            Permission::CLUSTER_LICENSE_UPDATE_CLUSTER,
            Permission::CLUSTER_LICENSE_DELETE_CLUSTER,
            Permission::CLUSTER_LICENSE_LIST_CLUSTERS,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "secretAdmin",
        &[],
        &[
            Permission::CLUSTER_CREATE_SECRET,
            Permission::CLUSTER_LIST_SECRETS,
            Permission::SECRET_INSPECT,
            Permission::SECRET_DELETE,
        ],
        &[Cluster],
        &[Cluster],
    ),
    (
        "jobAdmin",
        &[],
        &[Permission::JOB_SKIP_CTX],
        &[Job, Cluster],
        &[Job, Cluster],
    ),
    (
        "clusterAdmin",
        &[
            "repoReader",
            "repoWriter",
            "repoOwner",
            "projectViewer",
            "projectWriter",
            "projectOwner",
            "projectCreator",
            "oidcAppAdmin",
            "idpAdmin",
            "identityAdmin",
            "debugger",
            "lokiLogReader",
            "pachdLogReader",
            "robotUser",
            "licenseAdmin",
            "secretAdmin",
            "jobAdmin",
        ],
        &[
            Permission::CLUSTER_MODIFY_BINDINGS,
            Permission::CLUSTER_GET_BINDINGS,
            Permission::CLUSTER_AUTH_ACTIVATE,
            Permission::CLUSTER_AUTH_DEACTIVATE,
            Permission::CLUSTER_AUTH_GET_CONFIG,
            Permission::CLUSTER_AUTH_SET_CONFIG,
            Permission::CLUSTER_AUTH_MODIFY_GROUP_MEMBERS,
            Permission::CLUSTER_AUTH_GET_GROUPS,
            Permission::CLUSTER_AUTH_GET_GROUP_USERS,
            Permission::CLUSTER_AUTH_EXTRACT_TOKENS,
            Permission::CLUSTER_AUTH_RESTORE_TOKEN,
            Permission::CLUSTER_AUTH_ROTATE_ROOT_TOKEN,
            Permission::CLUSTER_AUTH_DELETE_EXPIRED_TOKENS,
            Permission::CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL,
            Permission::CLUSTER_AUTH_REVOKE_USER_TOKENS,
            Permission::CLUSTER_ENTERPRISE_ACTIVATE,
            Permission::CLUSTER_ENTERPRISE_HEARTBEAT,
            Permission::CLUSTER_ENTERPRISE_GET_CODE,
            Permission::CLUSTER_ENTERPRISE_DEACTIVATE,
            Permission::CLUSTER_ENTERPRISE_PAUSE,
            Permission::CLUSTER_DELETE_ALL,
            Permission::CLUSTER_SET_DEFAULTS,
            Permission::CLUSTER_EDIT_CLUSTER_METADATA,
            Permission::CLUSTER_SNAPSHOTTER,
            Permission::CLUSTER_RESTART_PACHYDERM,
        ],
        &[Cluster],
        &[Cluster, Project, Repo],
    ),
];

/// The 18 role names, in the reference's order.
pub const ROLES: &[&str] = &[
    "repoReader",
    "repoWriter",
    "repoOwner",
    "projectViewer",
    "projectWriter",
    "projectOwner",
    "projectCreator",
    "oidcAppAdmin",
    "idpAdmin",
    "identityAdmin",
    "debugger",
    "lokiLogReader",
    "pachdLogReader",
    "robotUser",
    "licenseAdmin",
    "secretAdmin",
    "jobAdmin",
    "clusterAdmin",
];

/// Every role, compiled once.
pub fn roles() -> &'static [Role] {
    static ROLES_CELL: OnceLock<Vec<Role>> = OnceLock::new();
    ROLES_CELL.get_or_init(|| {
        let mut built: Vec<Role> = Vec::new();
        for (name, includes, own, bound, returned) in ROLE_DEFS {
            let mut permissions: Vec<Permission> = Vec::new();
            for inc in *includes {
                if let Some(r) = built.iter().find(|r| r.name == *inc) {
                    for p in &r.permissions {
                        if !permissions.contains(p) {
                            permissions.push(*p);
                        }
                    }
                }
            }
            for &p in *own {
                if !permissions.contains(&p) {
                    permissions.push(p);
                }
            }
            let mut perms = PermSet::default();
            permissions.iter().for_each(|p| perms.insert(*p));
            built.push(Role {
                name,
                permissions,
                perms,
                can_be_bound_to: bound,
                returned_for: returned,
            });
        }
        built
    })
}

pub fn role(name: &str) -> Option<&'static Role> {
    roles().iter().find(|r| r.name == name)
}

/// Refuses a role on a resource type outside its `can_be_bound_to` (the
/// roles table above). The reference accepts any role anywhere, so
/// `clusterAdmin` on a repo silently acts as `repoOwner` there; tusk
/// refuses it, naming the role, the resource and the types it applies to.
pub fn check_role_applies(role: &Role, resource: &Resource) -> Result<(), String> {
    let kind = if resource.kind == ResourceType::SpecRepo {
        ResourceType::Repo
    } else {
        resource.kind
    };
    if role.can_be_bound_to.contains(&kind) {
        return Ok(());
    }
    let applies: Vec<&str> = role.can_be_bound_to.iter().map(|k| k.name()).collect();
    let suggestion = match kind {
        ResourceType::Repo => "repoOwner",
        ResourceType::Project => "projectOwner",
        ResourceType::Job => "jobAdmin",
        _ => "clusterAdmin",
    };
    Err(format!(
        "role {} cannot be bound to {} {}: it applies only to {}; pick a role that applies to a {} (such as {suggestion}) or bind {} where it applies",
        role.name,
        kind.name(),
        resource.name,
        applies.join(", "),
        kind.name(),
        role.name,
    ))
}

/// Roles whose permissions include `p` (GetRolesForPermission).
pub fn roles_for_permission(p: Permission) -> Vec<&'static Role> {
    roles().iter().filter(|r| r.perms.contains(p)).collect()
}

/// A binding: principal → role names.
pub type Binding = BTreeMap<String, BTreeSet<String>>;

/// A binding compiled for evaluation: principal → bitmask of role indexes.
/// Unknown role names are dropped (they cannot be stored through the API).
///
/// One shared allocation of entries sorted by the principal's hash (see
/// [`principal_hash`]), plus each principal's boxed name: no hash table
/// per binding, no capacity slack. A check hashes each of its subjects once
/// and finds them in every binding it reads by a binary search over
/// integers, comparing a name only on a hash match. (Sorted names with a
/// binary search over strings cost a check more than the token's SHA-256;
/// a foldhash map per binding cost about 200 bytes each at 100k bindings.)
/// Cloning shares the entries (a reference count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledBinding {
    entries: std::sync::Arc<[Entry]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    hash: u64,
    mask: u32,
    principal: Box<str>,
}

/// A principal's hash for [`CompiledBinding`] lookups: one seed per
/// process, so bindings compiled at any time and a check's subjects hash
/// alike, and random, so names cannot be chosen offline to collide (a
/// collision costs a name comparison, never a wrong answer).
pub fn principal_hash(principal: &str) -> u64 {
    use std::hash::BuildHasher;
    static SEED: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    SEED.get_or_init(foldhash::fast::RandomState::default)
        .hash_one(principal)
}

impl CompiledBinding {
    pub fn compile(binding: &Binding) -> CompiledBinding {
        let mut entries: Vec<Entry> = binding
            .iter()
            .map(|(principal, names)| {
                let mask = names
                    .iter()
                    .filter_map(|n| roles().iter().position(|r| r.name == n))
                    .fold(0u32, |m, i| m | (1 << i));
                Entry {
                    hash: principal_hash(principal),
                    mask,
                    principal: Box::from(principal.as_str()),
                }
            })
            .collect();
        entries.sort_unstable_by(|a, b| (a.hash, &a.principal).cmp(&(b.hash, &b.principal)));
        CompiledBinding {
            entries: entries.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether two handles share one compiled form (a cache that left a
    /// binding alone hands out the same one).
    pub fn same(a: &CompiledBinding, b: &CompiledBinding) -> bool {
        std::sync::Arc::ptr_eq(&a.entries, &b.entries)
    }

    fn get(&self, principal: &str) -> u32 {
        self.get_hashed(principal, principal_hash(principal))
    }

    /// The mask of `principal`, whose [`principal_hash`] is `hash`.
    fn get_hashed(&self, principal: &str, hash: u64) -> u32 {
        let from = self.entries.partition_point(|e| e.hash < hash);
        self.entries[from..]
            .iter()
            .take_while(|e| e.hash == hash)
            .find(|e| &*e.principal == principal)
            .map_or(0, |e| e.mask)
    }

    /// Whether `principal` holds `role` directly in this binding (not via
    /// groups or `allClusterUsers`).
    pub fn has_role(&self, principal: &str, role: &str) -> bool {
        roles()
            .iter()
            .position(|r| r.name == role)
            .is_some_and(|i| self.get(principal) & (1 << i) != 0)
    }
}

/// A check's subjects (the principal, allClusterUsers, its groups) with
/// their hashes, computed once for every binding the check reads; kept
/// inline up to [`Subjects::INLINE`], hashed at each use past that.
struct Subjects<'a> {
    inline: [(&'a str, u64); Subjects::INLINE],
    groups: &'a [String],
}

impl<'a> Subjects<'a> {
    const INLINE: usize = 16;

    fn new(principal: &'a str, groups: &'a [String]) -> Subjects<'a> {
        let mut inline = [("", 0); Subjects::INLINE];
        let all = [principal, ALL_CLUSTER_USERS]
            .into_iter()
            .chain(groups.iter().map(String::as_str));
        for (slot, s) in inline.iter_mut().zip(all) {
            *slot = (s, principal_hash(s));
        }
        Subjects { inline, groups }
    }

    /// Each subject with its hash, in evaluation order.
    fn iter(&self) -> impl Iterator<Item = (&'a str, u64)> + '_ {
        let n = (2 + self.groups.len()).min(Subjects::INLINE);
        let rest = self
            .groups
            .iter()
            .skip(Subjects::INLINE - 2)
            .map(|g| (g.as_str(), principal_hash(g)));
        self.inline[..n].iter().copied().chain(rest)
    }
}

/// The roles an evaluation met, in the order met, without allocating: a
/// role is met at most once and there are 18.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolesMet {
    order: [u8; 32],
    len: u8,
}

impl RolesMet {
    fn push(&mut self, index: usize) {
        if let (Some(slot), Ok(i)) = (
            self.order.get_mut(usize::from(self.len)),
            u8::try_from(index),
        ) {
            *slot = i;
            self.len += 1;
        }
    }

    /// The roles, in the order met.
    pub fn iter(&self) -> impl Iterator<Item = &'static Role> + '_ {
        self.order[..usize::from(self.len)]
            .iter()
            .filter_map(|&i| roles().get(usize::from(i)))
    }

    /// Their names, in the order met.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(|r| r.name).collect()
    }
}

/// Why a check could not be evaluated (not a refusal: those come back as
/// `missing` permissions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The cluster binding is missing or empty: auth is off.
    #[error("{}", wire_text::NOT_ACTIVATED)]
    NotActivated,
    #[error("{} {kind} {name}", wire_text::NO_ROLE_BINDING)]
    NoRoleBinding { kind: &'static str, name: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Permissions granted, in the order they were granted.
    pub satisfied: Vec<Permission>,
    pub missing: Vec<Permission>,
    /// Every role that applied, in the order met.
    pub roles: RolesMet,
}

impl Evaluation {
    pub fn authorized(&self) -> bool {
        self.missing.is_empty()
    }
}

/// The part of a binding key before the resource's name: `binding_key`
/// for every type but the cluster, whose key has no name.
fn key_prefix(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Unknown => "RESOURCE_TYPE_UNKNOWN:",
        ResourceType::Cluster => "CLUSTER:",
        ResourceType::Repo | ResourceType::SpecRepo => "REPO:",
        ResourceType::Project => "PROJECT:",
        ResourceType::Job => "JOB:",
    }
}

/// Calls `f` with `prefix` followed by `name` as one key, built in a stack
/// buffer when it fits (every check builds one or two keys), else on the
/// heap.
fn with_key<R>(prefix: &str, name: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 160];
    let n = prefix.len() + name.len();
    if let Some(dst) = buf.get_mut(..n) {
        let (head, tail) = dst.split_at_mut(prefix.len());
        head.copy_from_slice(prefix.as_bytes());
        tail.copy_from_slice(name.as_bytes());
        if let Ok(key) = std::str::from_utf8(dst) {
            return f(key);
        }
    }
    f(&format!("{prefix}{name}"))
}

/// Evaluates `wanted` for `principal` on `resource` (docs/auth-model.md §5).
/// `binding` looks up a binding by key; `groups` are the principal's
/// groups. An empty `wanted` means "all permissions" (GetPermissions).
pub fn evaluate<'b>(
    principal: &str,
    groups: &[String],
    resource: &Resource,
    wanted: &[Permission],
    binding: impl Fn(&str) -> Option<&'b CompiledBinding>,
) -> Result<Evaluation, EvalError> {
    let all = wanted.is_empty();
    let mut granted = PermSet::default();
    let mut seen = 0u32;
    let mut order = RolesMet::default();
    // Within a binding: the principal, then allClusterUsers, then groups;
    // a role met before is skipped.
    let subjects = Subjects::new(principal, groups);
    let mut apply = |b: &CompiledBinding, granted: &mut PermSet| {
        for (subject, hash) in subjects.iter() {
            let fresh = b.get_hashed(subject, hash) & !seen;
            if fresh == 0 {
                continue;
            }
            seen |= fresh;
            for (i, r) in roles().iter().enumerate() {
                if fresh & (1 << i) != 0 {
                    order.push(i);
                    granted.union(r.perms);
                }
            }
        }
    };
    let done = |granted: &PermSet| !all && wanted.iter().all(|p| granted.contains(*p));

    let mut kind = resource.kind;
    if kind == ResourceType::SpecRepo {
        static SPEC: OnceLock<CompiledBinding> = OnceLock::new();
        let spec = SPEC.get_or_init(|| {
            CompiledBinding::compile(&BTreeMap::from([(
                ALL_CLUSTER_USERS.to_owned(),
                BTreeSet::from(["repoReader".to_owned()]),
            )]))
        });
        apply(spec, &mut granted);
        kind = ResourceType::Repo;
    }
    let result = (|| {
        if !done(&granted) || all {
            let cluster = binding("CLUSTER:")
                .filter(|b| !b.is_empty())
                .ok_or(EvalError::NotActivated)?;
            apply(cluster, &mut granted);
        }
        if done(&granted) || kind == ResourceType::Cluster {
            return Ok(());
        }
        // Keys are built on the stack: this runs on every check.
        if kind == ResourceType::Repo {
            let project = resource.project().unwrap_or_default();
            let b = with_key("PROJECT:", project, &binding).ok_or_else(|| {
                EvalError::NoRoleBinding {
                    kind: "PROJECT",
                    name: project.to_owned(),
                }
            })?;
            apply(b, &mut granted);
            if done(&granted) {
                return Ok(());
            }
        }
        let own = with_key(key_prefix(kind), &resource.name, &binding).ok_or_else(|| {
            EvalError::NoRoleBinding {
                kind: kind.name(),
                name: resource.name.clone(),
            }
        })?;
        apply(own, &mut granted);
        Ok(())
    })();
    result?;
    let mut eval = Evaluation {
        roles: order,
        ..Default::default()
    };
    let every: Vec<Permission>;
    let candidates: &[Permission] = if all {
        every = PERMISSIONS
            .iter()
            .skip(1)
            .map(|(n, _)| Permission(*n))
            .collect();
        &every
    } else {
        wanted
    };
    // Sets, not `Vec::contains`: a request may list many permissions, and
    // a quadratic loop here would let one call hold a worker for minutes.
    // Known permissions dedup in a bitset (no allocation on the hot path);
    // only unknown numbers need a hash set.
    let mut seen_known = PermSet::default();
    let mut seen_unknown = std::collections::HashSet::new();
    for &p in candidates {
        let first = if p.index().is_some() {
            !seen_known.contains(p) && {
                seen_known.insert(p);
                true
            }
        } else {
            seen_unknown.insert(p)
        };
        if !first {
            continue;
        }
        if granted.contains(p) {
            eval.satisfied.push(p);
        } else {
            eval.missing.push(p);
        }
    }
    Ok(eval)
}

/// The reference's ErrNotAuthorized text, byte for byte (docs/wire-api.md §2).
pub fn not_authorized(subject: &str, missing: &[Permission], resource: &Resource) -> String {
    let names: Vec<&str> = missing.iter().map(|p| p.name()).collect();
    format!(
        "{subject} {} - needs permissions [{}] on {} {}. Run `pachctl auth roles-for-permission` to find roles that grant a given permission.",
        wire_text::NOT_AUTHORIZED,
        names.join(" "),
        resource.kind.name(),
        resource.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let cases = [
            ("allClusterUsers", Ok(())),
            ("user:kilgore@kilgore.trout", Ok(())),
            ("robot:ci", Ok(())),
            ("pach:root", Ok(())),
            (
                "kilgore",
                Err("subject has no prefix, must be of the form <type>:<name>".to_string()),
            ),
            (
                "bogus:x",
                Err("subject has unrecognized prefix: bogus:".to_string()),
            ),
            (
                "user:",
                Err("subject `user:` has an empty name after the prefix".to_string()),
            ),
        ];
        for (subject, want) in cases {
            assert_eq!(check_subject(subject), want, "{subject}");
        }
    }

    #[test]
    fn permission_index_is_the_position_in_the_table() {
        for (i, (n, _)) in PERMISSIONS.iter().enumerate() {
            let want = (i > 0).then_some(i);
            assert_eq!(Permission(*n).index(), want, "{n}");
        }
        for n in [-1, 1, 99, 511, 512, i32::MAX, i32::MIN] {
            assert_eq!(Permission(n).index(), None, "{n}");
        }
    }

    #[test]
    fn principals_with_one_hash_are_told_apart_by_name() {
        let entry = |p: &str, mask| Entry {
            hash: 7,
            mask,
            principal: p.into(),
        };
        let b = CompiledBinding {
            entries: vec![entry("user:a", 1), entry("user:b", 2), entry("user:c", 4)].into(),
        };
        assert_eq!(b.get_hashed("user:b", 7), 2);
        assert_eq!(b.get_hashed("user:c", 7), 4);
        assert_eq!(b.get_hashed("user:d", 7), 0);
        assert_eq!(b.get_hashed("user:a", 8), 0);
    }

    #[test]
    fn many_groups_are_all_looked_up() {
        let groups: Vec<String> = (0..40).map(|i| format!("group:g{i}")).collect();
        let s = Subjects::new("user:u", &groups);
        let got: Vec<(&str, u64)> = s.iter().collect();
        let want: Vec<(&str, u64)> = ["user:u", ALL_CLUSTER_USERS]
            .into_iter()
            .chain(groups.iter().map(String::as_str))
            .map(|n| (n, principal_hash(n)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn evaluation_keys_are_binding_keys() {
        use ResourceType::*;
        let long = "p/".to_owned() + &"r".repeat(300);
        for kind in [Unknown, Repo, Project, Job] {
            for name in ["", "p", "p/r", "pr\u{f6}j/r", long.as_str()] {
                let r = Resource {
                    kind,
                    name: name.to_owned(),
                };
                let got = with_key(key_prefix(kind), name, str::to_owned);
                assert_eq!(got, r.binding_key(), "{kind:?} {name}");
            }
        }
    }

    #[test]
    fn role_table_is_complete() {
        assert_eq!(roles().len(), 18);
        assert_eq!(roles().iter().map(|r| r.name).collect::<Vec<_>>(), ROLES);
        let admin = role("clusterAdmin")
            .map(|r| r.permissions.len())
            .unwrap_or_default();
        // Every known permission but PERMISSION_UNKNOWN.
        assert_eq!(admin, PERMISSIONS.len() - 1);
        assert_eq!(role("repoReader").map(|r| r.permissions.len()), Some(9));
        assert_eq!(role("repoOwner").map(|r| r.permissions.len()), Some(16));
    }
}
