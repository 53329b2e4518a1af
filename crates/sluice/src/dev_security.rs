//! `sluice dev-cluster --secure`: the files that put a dev cluster on SASL_SSL, made in its
//! data directory at first start and kept across restarts, like `DIR/cluster.id`:
//!
//! ```text
//! DIR/tls/ca.pem             0644  the local CA's certificate, for clients to trust
//! DIR/tls/broker.pem         0600  the brokers' key store: EC P-256 private key (PKCS#8), then
//!                                  its certificate (SAN 127.0.0.1 and localhost) signed by the CA
//! DIR/tls/broker.secret      0600  the password of `broker`, the PLAIN user brokers log in to each
//!                                  other as (hex, one line)
//! DIR/admin.properties       0600  client properties (Java syntax) of `admin`, a SCRAM-SHA-512
//!                                  user: `sluice ... --command-config` and Kafka's tools read it
//! DIR/tls/server.properties  0600  the nodes' security settings (`sluice server --config`),
//!                                  rewritten at every start from the files above
//! ```
//!
//! The CA's private key is not kept: it signs the brokers' certificate and is dropped, so no
//! other certificate can ever chain to a `ca.pem` someone may have added to a trust store.
//! Should `ca.pem` or `broker.pem` go missing, both are made anew.
//!
//! Passwords are random (256 bits, hex) and appear in these files only, never in a log line or
//! on a node's command line (where `ps` would show them): the nodes read theirs from
//! `server.properties`. The admin exists from the cluster's first start because every node's
//! storage is formatted with its credential, as `sluice storage format --add-scram` does (see
//! `dev_cluster.rs`); [`DevSecurity::admin_credential`] is that credential.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use sluice_controller::MetadataCommand;
use sluice_security::{JaasConfig, ScramCredential, ScramMechanism, Secret};

/// The name of the client listener of a secure dev cluster; its security protocol as well.
pub const CLIENT_LISTENER: &str = "SASL_SSL";
/// The SCRAM user made at first start.
pub const ADMIN_USER: &str = "admin";
/// The admin's mechanism: the strongest SCRAM that Kafka's clients all support.
const ADMIN_MECHANISM: ScramMechanism = ScramMechanism::Sha512;
/// Kafka's default (and smallest allowed) SCRAM iteration count.
const ADMIN_ITERATIONS: u32 = 4096;
/// The PLAIN user brokers log in to each other as.
const BROKER_USER: &str = "broker";
/// Random bytes in each password.
const PASSWORD_BYTES: usize = 32;
/// Years the certificates are valid for, from the start of the year before they are made (so
/// a clock a little behind still accepts them).
const VALID_YEARS: i32 = 10;

const OWNER_ONLY: u32 = 0o600;
const WORLD_READABLE: u32 = 0o644;

/// The security files of one dev cluster, made or read.
pub struct DevSecurity {
    /// `DIR/tls/ca.pem`
    pub ca_path: PathBuf,
    /// `DIR/tls/broker.pem`
    pub keystore_path: PathBuf,
    /// `DIR/admin.properties`
    pub admin_properties_path: PathBuf,
    /// `DIR/tls/server.properties`
    pub server_properties_path: PathBuf,
    broker_password: Secret,
    admin_password: Secret,
    /// Whether `admin.properties` was made by this call (the admin is new).
    pub admin_is_new: bool,
}

impl DevSecurity {
    /// Makes what `data_dir` lacks of the files above (reading the rest) and writes
    /// `server.properties`. `cluster_started`: a node of this directory has run before; then
    /// a missing `admin.properties` is an error, since that cluster's metadata log started
    /// without the admin, and making a password now would give a file that cannot log in.
    pub fn prepare(data_dir: &Path, cluster_started: bool) -> Result<DevSecurity, String> {
        if data_dir.display().to_string().contains(['\n', '\r']) {
            // Properties files are line-based: the paths written into them must be one line.
            return Err(format!(
                "--secure needs a data directory whose path is one line, not {:?}",
                data_dir
            ));
        }
        let tls_dir = data_dir.join("tls");
        std::fs::create_dir_all(&tls_dir)
            .map_err(|e| format!("cannot create {}: {e}", tls_dir.display()))?;
        let admin_properties_path = data_dir.join("admin.properties");
        let admin_is_new = !exists(&admin_properties_path)?;
        if admin_is_new && cluster_started {
            return Err(format!(
                "{} has no admin.properties but its nodes have run before: that cluster was \
                 started without --secure and has no admin user; use another --data-dir",
                data_dir.display()
            ));
        }
        let ca_path = tls_dir.join("ca.pem");
        let keystore_path = tls_dir.join("broker.pem");
        if !exists(&ca_path)? || !exists(&keystore_path)? {
            make_certificates(&ca_path, &keystore_path)?;
        }
        let broker_password = stored_secret(&tls_dir.join("broker.secret"))?;
        let admin_password = if admin_is_new {
            let password = random_password()?;
            let text = admin_properties(&password, &ca_path);
            write_file(&admin_properties_path, text.as_bytes(), OWNER_ONLY)?;
            Secret::new(password)
        } else {
            stored_admin_password(&admin_properties_path)?
        };
        let security = DevSecurity {
            ca_path,
            keystore_path,
            admin_properties_path,
            server_properties_path: tls_dir.join("server.properties"),
            broker_password,
            admin_password,
            admin_is_new,
        };
        write_file(
            &security.server_properties_path,
            security.server_properties().as_bytes(),
            OWNER_ONLY,
        )?;
        Ok(security)
    }

    /// The admin's SCRAM-SHA-512 credential (a new random salt each call), as the command a
    /// node's storage is formatted with.
    pub fn admin_credential(&self) -> Result<MetadataCommand, String> {
        let credential = ScramCredential::generate(
            ADMIN_MECHANISM,
            self.admin_password.expose(),
            ADMIN_ITERATIONS,
        )
        .map_err(|e| format!("the admin's credential: {e}"))?;
        Ok(crate::storage::upsert_scram(
            ADMIN_USER.to_string(),
            ADMIN_MECHANISM,
            credential,
        ))
    }

    /// The nodes' security settings, in the broker's properties syntax (`key=value`, a line
    /// each, no escapes): the client listener on SASL_SSL for clients and brokers alike, the
    /// controller listener on SASL_SSL too (PLAIN, the brokers' own user).
    fn server_properties(&self) -> String {
        let listener = CLIENT_LISTENER;
        let password = String::from_utf8_lossy(self.broker_password.expose());
        format!(
            "# Written by `sluice dev-cluster --secure` at every start: changes here are lost;\n\
             # give other settings with --set.\n\
             listener.security.protocol.map={listener}:SASL_SSL,CONTROLLER:SASL_SSL\n\
             inter.broker.listener.name={listener}\n\
             ssl.keystore.location={keystore}\n\
             ssl.truststore.location={ca}\n\
             sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n\
             sasl.mechanism.inter.broker.protocol=PLAIN\n\
             listener.name.{lower}.plain.sasl.jaas.config=\
             org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"{BROKER_USER}\" password=\"{password}\" \
             user_{BROKER_USER}=\"{password}\";\n\
             sasl.mechanism.controller.protocol=PLAIN\n\
             listener.name.controller.plain.sasl.jaas.config=\
             org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"{BROKER_USER}\" password=\"{password}\" \
             user_{BROKER_USER}=\"{password}\";\n",
            keystore = self.keystore_path.display(),
            ca = self.ca_path.display(),
            lower = listener.to_ascii_lowercase(),
        )
    }
}

fn exists(path: &Path) -> Result<bool, String> {
    path.try_exists()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The password in `path`, made and written there first if the file is missing.
fn stored_secret(path: &Path) -> Result<Secret, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let password = text.trim();
            if password.is_empty() {
                return Err(format!(
                    "{} is empty; delete it to have a new password made",
                    path.display()
                ));
            }
            Ok(Secret::new(password))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let password = random_password()?;
            write_file(path, format!("{password}\n").as_bytes(), OWNER_ONLY)?;
            Ok(Secret::new(password))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// [`PASSWORD_BYTES`] random bytes in hex: nothing in it needs quoting in a JAAS config or
/// escaping in a properties file.
fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes for a password: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The text of `admin.properties`. Java's properties syntax: the values are escaped, as
/// `java.util.Properties` and the CLI's reader unescape them. Only keys that both Kafka's Java
/// tools and the CLI know (the CLI refuses unknown keys).
fn admin_properties(password: &str, ca_path: &Path) -> String {
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{ADMIN_USER}\" password=\"{password}\";"
    );
    let pairs = [
        ("security.protocol", "SASL_SSL".to_string()),
        ("sasl.mechanism", ADMIN_MECHANISM.name().to_string()),
        ("sasl.jaas.config", jaas),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", ca_path.display().to_string()),
    ];
    let mut text = format!(
        "# The {} user {ADMIN_USER} of a `sluice dev-cluster --secure`, for\n\
         #   sluice <command> -b <bootstrap server> --command-config <this file>\n\
         # and Kafka's tools (kafka-topics.sh --command-config <this file>). Keep it private.\n",
        ADMIN_MECHANISM.name()
    );
    for (key, value) in pairs {
        text.push_str(&format!("{key}={}\n", escape_property(&value)));
    }
    text
}

/// A value escaped for a Java properties file: `\` doubled, line breaks as `\n`/`\r`, and a
/// leading blank kept (`\ `), which the reader would otherwise drop.
fn escape_property(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ' ' | '\t' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The admin's password from the `sasl.jaas.config` line of an `admin.properties` this module
/// wrote (one line, nothing in the JAAS value escaped).
fn stored_admin_password(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let missing = || {
        format!(
            "{} has no sasl.jaas.config line with the admin's password; restore it, or start \
             afresh in another --data-dir",
            path.display()
        )
    };
    let jaas = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("sasl.jaas.config="))
        .ok_or_else(missing)?;
    let config = JaasConfig::parse(jaas).map_err(|_| missing())?;
    config.secret("password").cloned().ok_or_else(missing)
}

/// Makes a CA and, signed by it, the brokers' certificate; writes the key store, then the CA's
/// certificate.
fn make_certificates(ca_path: &Path, keystore_path: &Path) -> Result<(), String> {
    let tls_error = |e: rcgen::Error| format!("cannot make the cluster's certificates: {e}");

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_error)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca.distinguished_name = name("Sluice dev-cluster CA");
    // Path length 0: it signs end-entity certificates only.
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut ca);
    let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;

    let broker_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_error)?;
    let mut broker = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(tls_error)?;
    broker.distinguished_name = name("Sluice dev-cluster broker");
    broker.is_ca = IsCa::ExplicitNoCa;
    broker.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Client authentication too: a broker may present it to another's mTLS listener.
    broker.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    broker.use_authority_key_identifier_extension = true;
    set_validity(&mut broker);
    let broker_cert = broker
        .signed_by(&broker_key, &ca_cert, &ca_key)
        .map_err(tls_error)?;

    let keystore = format!("{}{}", broker_key.serialize_pem(), broker_cert.pem());
    write_file(keystore_path, keystore.as_bytes(), OWNER_ONLY)?;
    write_file(ca_path, ca_cert.pem().as_bytes(), WORLD_READABLE)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Sluice dev-cluster");
    name.push(DnType::CommonName, common_name);
    name
}

/// Valid from January 1 of last year for [`VALID_YEARS`].
fn set_validity(params: &mut CertificateParams) {
    /// The mean Gregorian year.
    const YEAR_SECONDS: u64 = 31_556_952;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Off by at most a day around new year, which starting a year early absorbs.
    let year = 1970 + i32::try_from(seconds / YEAR_SECONDS).unwrap_or(0);
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year - 1 + VALID_YEARS, 1, 1);
}

/// Writes `contents` to `path` with permissions `mode` (whatever the umask): into a new
/// temporary file beside it, synced, then renamed over `path`, so a crash leaves the old file
/// or the new one, never a part, and a private file is never readable by others, not even
/// while it is written.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let write = || -> io::Result<()> {
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(OWNER_ONLY)
            .open(&temporary)?;
        file.set_permissions(Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use sluice_security::tls::{KeyStore, KeyStoreSource, TrustStore};

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).expect("read")
    }

    #[test]
    fn the_files_are_made_once_with_private_keys_and_passwords_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DevSecurity::prepare(dir.path(), false).expect("made");
        assert!(first.admin_is_new);
        let tls = dir.path().join("tls");
        assert_eq!(first.ca_path, tls.join("ca.pem"));
        assert_eq!(first.keystore_path, tls.join("broker.pem"));
        assert_eq!(
            first.admin_properties_path,
            dir.path().join("admin.properties")
        );
        for private in [
            tls.join("broker.pem"),
            tls.join("broker.secret"),
            tls.join("server.properties"),
            dir.path().join("admin.properties"),
        ] {
            assert_eq!(mode(&private), 0o600, "{}", private.display());
        }
        assert_eq!(mode(&tls.join("ca.pem")), 0o644);
        let names: Vec<String> = std::fs::read_dir(&tls)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

        let ca = read(&tls.join("ca.pem"));
        let keystore = read(&tls.join("broker.pem"));
        let admin = read(&dir.path().join("admin.properties"));
        let secret = read(&tls.join("broker.secret"));
        assert_eq!(secret.trim().len(), 2 * PASSWORD_BYTES);

        let second = DevSecurity::prepare(dir.path(), true).expect("read");
        assert!(!second.admin_is_new);
        assert_eq!(read(&tls.join("ca.pem")), ca);
        assert_eq!(read(&tls.join("broker.pem")), keystore);
        assert_eq!(read(&dir.path().join("admin.properties")), admin);
        assert_eq!(read(&tls.join("broker.secret")), secret);
        assert_eq!(second.admin_password, first.admin_password);
        assert_eq!(second.broker_password, first.broker_password);
    }

    #[test]
    fn the_key_store_holds_the_key_then_a_certificate_the_ca_signed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let security = DevSecurity::prepare(dir.path(), false).expect("made");
        let keystore = read(&security.keystore_path);
        assert!(
            keystore.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{keystore}"
        );
        assert_eq!(keystore.matches("-----BEGIN CERTIFICATE-----").count(), 1);
        let ca = read(&security.ca_path);
        assert_eq!(ca.matches("-----BEGIN CERTIFICATE-----").count(), 1);
        assert!(!ca.contains("PRIVATE KEY"));
        let key = KeyPair::from_pem(&keystore).expect("a key");
        assert_eq!(key.algorithm(), &PKCS_ECDSA_P256_SHA256);
        // The broker's readers take both files.
        let source = KeyStoreSource::File(security.keystore_path.clone());
        let store = KeyStore::load(&source, None).expect("a key store");
        assert_eq!(store.chain.len(), 1);
        let roots = TrustStore::from_file(&security.ca_path).expect("a trust store");
        assert_eq!(roots.roots().expect("roots").len(), 1);
    }

    #[test]
    fn a_missing_certificate_remakes_both_and_keeps_the_passwords() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DevSecurity::prepare(dir.path(), false).expect("made");
        let ca = read(&first.ca_path);
        std::fs::remove_file(&first.keystore_path).expect("remove");
        let second = DevSecurity::prepare(dir.path(), true).expect("remade");
        assert_ne!(read(&second.ca_path), ca);
        assert!(second.keystore_path.exists());
        assert_eq!(second.admin_password, first.admin_password);
    }

    #[test]
    fn a_cluster_started_without_the_admin_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = DevSecurity::prepare(dir.path(), true)
            .err()
            .expect("no admin in that cluster");
        assert!(err.contains("started without --secure"), "{err}");
        assert!(!dir.path().join("admin.properties").exists());
    }

    #[test]
    fn admin_properties_are_what_the_cli_and_kafkas_tools_read() {
        let text = admin_properties("00ff", Path::new("/d/with\\slash/tls/ca.pem"));
        let settings: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            settings,
            vec![
                "security.protocol=SASL_SSL",
                "sasl.mechanism=SCRAM-SHA-512",
                "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
                 required username=\"admin\" password=\"00ff\";",
                "ssl.truststore.type=PEM",
                "ssl.truststore.location=/d/with\\\\slash/tls/ca.pem",
            ]
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("admin.properties");
        std::fs::write(&path, &text).expect("write");
        assert_eq!(
            stored_admin_password(&path).expect("found").expose(),
            b"00ff"
        );
        std::fs::write(&path, "security.protocol=SASL_SSL\n").expect("write");
        assert!(stored_admin_password(&path)
            .expect_err("no password")
            .contains("has no sasl.jaas.config line"));
    }

    #[test]
    fn property_values_are_escaped() {
        assert_eq!(escape_property("a b\\c"), "a b\\\\c");
        assert_eq!(escape_property(" lead"), "\\ lead");
        assert_eq!(escape_property("x\ny"), "x\\ny");
    }

    #[test]
    fn the_admin_credential_is_scram_sha_512_of_the_stored_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let security = DevSecurity::prepare(dir.path(), false).expect("made");
        let MetadataCommand::UpsertScramCredential {
            user,
            mechanism,
            credential,
        } = security.admin_credential().expect("derived")
        else {
            panic!("not a SCRAM credential");
        };
        assert_eq!((user.as_str(), mechanism), ("admin", 2));
        let expected = ScramCredential::derive(
            ScramMechanism::Sha512,
            security.admin_password.expose(),
            &credential.salt,
            credential.iterations,
        );
        assert_eq!(credential.stored_key, expected.stored_key);
    }

    #[test]
    fn the_nodes_settings_secure_the_client_listener() {
        let dir = tempfile::tempdir().expect("temp dir");
        let security = DevSecurity::prepare(dir.path(), false).expect("made");
        let text = read(&security.server_properties_path);
        let tls = dir.path().join("tls");
        let secret = read(&tls.join("broker.secret"));
        let secret = secret.trim();
        for line in [
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL".to_string(),
            "sasl.mechanism.controller.protocol=PLAIN".to_string(),
            format!(
                "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.\
                 security.plain.PlainLoginModule required username=\"broker\" \
                 password=\"{secret}\" user_broker=\"{secret}\";"
            ),
            "inter.broker.listener.name=SASL_SSL".to_string(),
            format!("ssl.keystore.location={}", tls.join("broker.pem").display()),
            format!("ssl.truststore.location={}", tls.join("ca.pem").display()),
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".to_string(),
            "sasl.mechanism.inter.broker.protocol=PLAIN".to_string(),
            format!(
                "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.\
                 security.plain.PlainLoginModule required username=\"broker\" \
                 password=\"{secret}\" user_broker=\"{secret}\";"
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        // The broker reads it as it is.
        let mut config = sluice_broker::BrokerConfig::default();
        config
            .load_file(&security.server_properties_path)
            .expect("a broker config");
    }
}
