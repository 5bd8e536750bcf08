//! A real OpenLDAP directory for tests: Debian's `slapd`, run from a
//! generated `slapd.conf` in a temp dir on free loopback ports, never the
//! package's default instance.
//!
//! [`Slapd::start`] makes a CA and a server certificate (for `127.0.0.1`
//! and `localhost`), writes the config with the `core`, `cosine`,
//! `inetorgperson` and `nis` schemas, loads [`SEED`] with `slapadd`, starts
//! `slapd` listening on `ldap://` (also StartTLS) and `ldaps://`, and waits
//! until it accepts connections. Dropping it stops the process and removes
//! the directory. `stop` and `restart` let a test take the directory away
//! and bring it back on the same ports; `modify` applies LDIF changes
//! through `ldapmodify`, as an admin would. [`Slapd::start_with`] can make
//! it demand a client certificate ([`Slapd::client_cert_paths`] has one).
//!
//! When slapd or ldap-utils is missing, `start` fails with the command that
//! installs them: a test that needs the directory must fail, never skip.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory's suffix.
pub const BASE_DN: &str = "dc=example,dc=org";
/// The root DN (slapd's `rootdn`), used by [`Slapd::modify`].
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "admin-s3cret-pw";
/// The service account tusk binds as; it may read everything but passwords.
pub const SERVICE_DN: &str = "cn=tusk,ou=services,dc=example,dc=org";
pub const SERVICE_PW: &str = "service-s3cret-pw";
pub const PEOPLE_DN: &str = "ou=people,dc=example,dc=org";
pub const GROUPS_DN: &str = "ou=groups,dc=example,dc=org";

/// The login name (`uid`) of the user whose name and DN hold every
/// character special to filters and DNs.
pub const WEIRD_UID: &str = "o'brien*(x)\\,=+";
/// That user's DN as written in [`SEED`].
pub const WEIRD_DN: &str = "cn=O'Brien\\2C Jr. (ops*)\\5C\\2B\\3D,ou=people,dc=example,dc=org";

/// Users (password = `<uid>-pw`): `alice` (groups admins, developers),
/// `bob` (developers by DN, ops by memberUid), `nomail` (no `mail`),
/// the user [`WEIRD_UID`] (developers), and two entries with uid `twin`
/// (ambiguous on purpose).
pub const SEED: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=contractors,ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=example,dc=org
objectClass: organizationalUnit
ou: services

dn: cn=tusk,ou=services,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: tusk
userPassword: service-s3cret-pw

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.org
userPassword: bob-pw

dn: uid=nomail,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: nomail
cn: No Mail
sn: Mail
userPassword: nomail-pw

dn: cn=O'Brien\\2C Jr. (ops*)\\5C\\2B\\3D,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: o'brien*(x)\\,=+
cn: O'Brien, Jr. (ops*)\\+=
sn: O'Brien
mail: obrien@example.org
userPassword: obrien-pw

dn: uid=twin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin One
sn: One
mail: twin1@example.org
userPassword: twin-pw

dn: uid=twin,ou=contractors,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin Two
sn: Two
mail: twin2@example.org
userPassword: twin-pw

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org
member: cn=O'Brien\\2C Jr. (ops*)\\5C\\2B\\3D,ou=people,dc=example,dc=org

dn: cn=ops,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: ops
gidNumber: 1001
memberUid: bob
";

/// Why the directory could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum SlapdError {
    #[error(
        "`{0}` is not installed, and the LDAP tests need a real OpenLDAP: install it with `apt-get install -y slapd ldap-utils` (scripts/test-ldap does this)"
    )]
    Missing(String),
    #[error("slapd test directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("slapd test directory: cannot make certificates: {0}")]
    Cert(String),
    #[error("slapd test directory: `{command}` failed: {output}")]
    Command { command: String, output: String },
    #[error("slapd did not accept connections within 15s; its log:\n{0}")]
    NotReady(String),
}

/// A running test directory. Stopped and removed on drop.
pub struct Slapd {
    dir: tempfile::TempDir,
    slapd: PathBuf,
    pub ldap_port: u16,
    pub ldaps_port: u16,
    ca_pem: String,
    child: Option<Child>,
}

fn find(name: &str) -> Result<PathBuf, SlapdError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // Debian puts slapd and slapadd in /usr/sbin, often not on a user's PATH.
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/bin".into());
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| SlapdError::Missing(name.to_owned()))
}

fn free_port() -> Result<u16, SlapdError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Result<(), SlapdError> {
    let command = format!("{cmd:?}");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SlapdError::Command {
            command,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

/// A CA, as PEM, that did not sign the directory's certificate.
pub fn unrelated_ca_pem() -> Result<String, SlapdError> {
    Ok(ca()?.0.pem())
}

fn ca() -> Result<(rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>), SlapdError> {
    let err = |e: rcgen::Error| SlapdError::Cert(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tusk test LDAP CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert, rcgen::Issuer::new(params, key)))
}

/// A certificate signed by `issuer` for `names`; returns (cert PEM, key PEM).
fn leaf(
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> Result<(String, String), SlapdError> {
    let err = |e: rcgen::Error| SlapdError::Cert(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .map_err(err)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Slapd {
    /// Starts a seeded directory on two free ports.
    pub fn start() -> Result<Slapd, SlapdError> {
        Slapd::start_with(false)
    }

    /// Like [`Slapd::start`]; with `demand_client_cert`, TLS clients without
    /// a certificate signed by the CA are refused (`TLSVerifyClient demand`).
    pub fn start_with(demand_client_cert: bool) -> Result<Slapd, SlapdError> {
        let slapd = find("slapd")?;
        let slapadd = find("slapadd")?;
        find("ldapmodify")?;
        let dir = tempfile::Builder::new().prefix("tusk-slapd-").tempdir()?;
        let d = dir.path();
        let (ca_cert, issuer) = ca()?;
        let ca_pem = ca_cert.pem();
        let (server_pem, server_key) = leaf(
            &issuer,
            &["127.0.0.1", "localhost"],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_pem, client_key) = leaf(
            &issuer,
            &["tusk-client"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        std::fs::write(d.join("ca.pem"), &ca_pem)?;
        std::fs::write(d.join("server.pem"), server_pem)?;
        std::fs::write(d.join("server.key"), server_key)?;
        std::fs::write(d.join("client.pem"), client_pem)?;
        std::fs::write(d.join("client.key"), client_key)?;
        std::fs::create_dir(d.join("db"))?;
        std::fs::write(d.join("slapd.conf"), config(d, demand_client_cert))?;
        std::fs::write(d.join("seed.ldif"), SEED)?;
        run(
            Command::new(&slapadd)
                .arg("-f")
                .arg(d.join("slapd.conf"))
                .arg("-l")
                .arg(d.join("seed.ldif")),
            None,
        )?;
        let mut s = Slapd {
            dir,
            slapd,
            ldap_port: free_port()?,
            ldaps_port: free_port()?,
            ca_pem,
            child: None,
        };
        s.restart()?;
        Ok(s)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `127.0.0.1:<port>` of plain LDAP (and StartTLS).
    pub fn ldap_host(&self) -> String {
        format!("127.0.0.1:{}", self.ldap_port)
    }

    /// `127.0.0.1:<port>` of LDAPS.
    pub fn ldaps_host(&self) -> String {
        format!("127.0.0.1:{}", self.ldaps_port)
    }

    /// The PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`Slapd::ca_pem`].
    pub fn ca_path(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// A client certificate and key (PEM files) signed by the CA.
    pub fn client_cert_paths(&self) -> (PathBuf, PathBuf) {
        (self.path("client.pem"), self.path("client.key"))
    }

    /// Stops slapd; its data stays for [`Slapd::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same ports and waits until it is ready.
    pub fn restart(&mut self) -> Result<(), SlapdError> {
        self.stop();
        let log = std::fs::File::create(self.path("slapd.log"))?;
        let urls = format!(
            "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
            self.ldap_port, self.ldaps_port
        );
        let child = Command::new(&self.slapd)
            .arg("-f")
            .arg(self.path("slapd.conf"))
            .arg("-h")
            .arg(urls)
            // -d keeps slapd in the foreground, so it is our child to stop.
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let up = [self.ldap_port, self.ldaps_port].iter().all(|p| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], *p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if up {
                return Ok(());
            }
            let exited = matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))));
            if exited || Instant::now() > deadline {
                self.stop();
                let log = std::fs::read_to_string(self.path("slapd.log")).unwrap_or_default();
                return Err(SlapdError::NotReady(log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Applies LDIF change records (`changetype: modify`, `delete`, ...)
    /// as the root DN, through `ldapmodify`.
    pub fn modify(&self, ldif: &str) -> Result<(), SlapdError> {
        run(
            Command::new(find("ldapmodify")?)
                .args(["-x", "-H"])
                .arg(format!("ldap://{}", self.ldap_host()))
                .args(["-D", ADMIN_DN, "-w", ADMIN_PW]),
            Some(ldif),
        )
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(d: &Path, demand_client_cert: bool) -> String {
    let p = |name: &str| d.join(name).display().to_string();
    format!(
        "\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {pid}
argsfile {args}
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
TLSVerifyClient {verify}

database mdb
maxsize 10485760
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PW}
directory {db}
index objectClass eq
index uid eq
index member eq
index memberUid eq

access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact=\"{SERVICE_DN}\" read
  by * none
",
        pid = p("slapd.pid"),
        args = p("slapd.args"),
        ca = p("ca.pem"),
        cert = p("server.pem"),
        key = p("server.key"),
        db = p("db"),
        verify = if demand_client_cert {
            "demand"
        } else {
            "allow"
        },
    )
}
