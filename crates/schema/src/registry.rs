//! [`SchemaRegistry`]: the registry's state (subjects and their versions, schemas by id,
//! compatibility levels, modes) as the `_schemas` topic's records build it, and the write
//! handlers that check a request and return the records that carry it out.
//!
//! One state machine serves two roles:
//! - on the leader of `_schemas` partition 0 it is the registry's only writer, run by the
//!   coordinator runtime ([`CoordinatorShard`]): a handler checks the request against the
//!   latest state, applies its records and returns them with the reply; the reply goes out
//!   once they are committed, and a failed append undoes them (the maps are timeline maps);
//! - on every node holding a replica it is a read view, fed the committed records in order
//!   ([`SchemaRegistry::replay`]).
//!
//! Every change goes through [`SchemaRegistry::apply`], for replayed records and new ones
//! alike, so a node that replays the log gets exactly the writer's state.
//!
//! Ids: a schema (format, canonical text, references) has one id in the whole registry,
//! whatever subjects it is registered under; a new schema gets the highest id seen plus one.
//! Versions of a subject count from 1; a soft-deleted version keeps its number.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use sluice_coordinator::{CoordinatorShard, KeyedRecord, RecordError, TimelineMap, Token, WriteId};
use sluice_protocol::error::ErrorCode;

use crate::compat::{self, CompatibilityLevel};
use crate::error::RegistryError;
use crate::format::{self, Dependency, ParsedSchema, SchemaReference, SchemaType};
use crate::records::{self, ConfigValue, DeleteSubjectValue, ModeValue, SchemaValue, SchemasKey};

/// How deep references may nest (a reference of a reference of ...).
const MAX_REFERENCE_DEPTH: usize = 32;

/// A registered schema's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSchema {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
}

/// One version of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: i32,
    pub deleted: bool,
}

/// A subject's version with its schema, as reads answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub deleted: bool,
    pub schema: StoredSchema,
}

/// Which version a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    /// `latest`, `-1` (latest, as Confluent accepts) or 1..=i32::MAX; anything else is
    /// 42202.
    pub fn parse(text: &str) -> Result<VersionSpec, RegistryError> {
        if text.eq_ignore_ascii_case("latest") {
            return Ok(VersionSpec::Latest);
        }
        match text.parse::<i32>() {
            Ok(-1) => Ok(VersionSpec::Latest),
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::InvalidVersion(text.to_string())),
        }
    }
}

/// The registry's modes (Confluent's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    ReadWrite,
    ReadOnly,
    ReadOnlyOverride,
    Import,
}

impl Mode {
    pub fn from_name(name: &str) -> Option<Mode> {
        Some(match name.to_ascii_uppercase().as_str() {
            "READWRITE" => Mode::ReadWrite,
            "READONLY" => Mode::ReadOnly,
            "READONLY_OVERRIDE" => Mode::ReadOnlyOverride,
            "IMPORT" => Mode::Import,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::ReadOnlyOverride => "READONLY_OVERRIDE",
            Mode::Import => "IMPORT",
        }
    }
}

/// A schema as a request gives it (registration, lookup, compatibility test).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaRequest {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
    /// IMPORT mode only: the id (and version) to register it under.
    pub id: Option<i32>,
    pub version: Option<i32>,
}

/// What a write answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteResult {
    Registered { id: i32, version: i32 },
    Version(i32),
    Versions(Vec<i32>),
    Level(CompatibilityLevel),
    Mode(Mode),
}

pub type Reply = Result<WriteResult, RegistryError>;

/// A write to the registry (see [`SchemaRegistry::write`]).
#[derive(Clone, Debug)]
pub enum WriteRequest {
    Register {
        subject: String,
        schema: SchemaRequest,
    },
    DeleteVersion {
        subject: String,
        version: VersionSpec,
        permanent: bool,
    },
    DeleteSubject {
        subject: String,
        permanent: bool,
    },
    /// `None`: the global level.
    SetConfig {
        subject: Option<String>,
        level: CompatibilityLevel,
    },
    DeleteConfig {
        subject: Option<String>,
    },
    SetMode {
        subject: Option<String>,
        mode: Mode,
    },
    DeleteMode {
        subject: Option<String>,
    },
}

/// The registry's state; see the module docs.
pub struct SchemaRegistry {
    /// invariant: every entry's id is in `ids`.
    versions: TimelineMap<(String, i32), VersionEntry>,
    ids: TimelineMap<i32, StoredSchema>,
    /// The id of each schema content, for a schema registered again.
    by_content: TimelineMap<(SchemaType, String, Vec<SchemaReference>), i32>,
    configs: TimelineMap<Option<String>, CompatibilityLevel>,
    modes: TimelineMap<Option<String>, Mode>,
    /// The global level when none was set (`schema.compatibility.level`).
    default_level: CompatibilityLevel,
    /// Parsed schemas by id, for compatibility checks; cleared when a write is undone (an id
    /// may then be given again to other content).
    parsed: HashMap<i32, Arc<ParsedSchema>>,
    loaded: bool,
}

impl SchemaRegistry {
    pub fn new(default_level: CompatibilityLevel) -> SchemaRegistry {
        SchemaRegistry {
            versions: TimelineMap::new(),
            ids: TimelineMap::new(),
            by_content: TimelineMap::new(),
            configs: TimelineMap::new(),
            modes: TimelineMap::new(),
            default_level,
            parsed: HashMap::new(),
            loaded: false,
        }
    }

    /// Whether the state is complete (loaded from the log) and may answer requests.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    // -----------------------------------------------------------------------------------------
    // Records

    /// Applies one `_schemas` record (replayed or new).
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), String> {
        match SchemasKey::decode(key)? {
            SchemasKey::Schema { subject, version } => match value {
                None => {
                    if let Some(entry) = self.versions.remove(&(subject, version)) {
                        self.forget_id_if_unused(entry.id);
                    }
                }
                Some(value) => {
                    let v: SchemaValue = records::decode(value)?;
                    let stored = StoredSchema {
                        schema_type: v.schema_type,
                        schema: v.schema,
                        references: v.references,
                    };
                    if self.ids.get(&v.id) != Some(&stored) {
                        if let Some(old) = self.ids.insert(v.id, stored.clone()) {
                            // Another content under this id (a topic written by someone
                            // else): the newest wins, as Confluent's store.
                            self.by_content
                                .remove(&(old.schema_type, old.schema, old.references));
                            self.parsed.remove(&v.id);
                        }
                    }
                    self.by_content
                        .insert((stored.schema_type, stored.schema, stored.references), v.id);
                    let previous = self.versions.insert(
                        (subject, version),
                        VersionEntry {
                            id: v.id,
                            deleted: v.deleted,
                        },
                    );
                    if let Some(previous) = previous.filter(|p| p.id != v.id) {
                        self.forget_id_if_unused(previous.id);
                    }
                }
            },
            SchemasKey::Config { subject } => match value {
                None => {
                    self.configs.remove(&subject);
                }
                Some(value) => {
                    let v: ConfigValue = records::decode(value)?;
                    let level =
                        CompatibilityLevel::from_name(&v.compatibility_level).ok_or_else(|| {
                            format!("unknown compatibility level {}", v.compatibility_level)
                        })?;
                    self.configs.insert(subject, level);
                }
            },
            SchemasKey::Mode { subject } => match value {
                None => {
                    self.modes.remove(&subject);
                }
                Some(value) => {
                    let v: ModeValue = records::decode(value)?;
                    let mode = Mode::from_name(&v.mode)
                        .ok_or_else(|| format!("unknown mode {}", v.mode))?;
                    self.modes.insert(subject, mode);
                }
            },
            SchemasKey::DeleteSubject { subject } => {
                if let Some(value) = value {
                    let v: DeleteSubjectValue = records::decode(value)?;
                    let keys: Vec<(String, i32)> = self
                        .versions
                        .range((subject.clone(), 0)..=(subject, v.version))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in keys {
                        if let Some(entry) = self.versions.get_mut(&key) {
                            entry.deleted = true;
                        }
                    }
                }
            }
            SchemasKey::Ignored => {}
        }
        Ok(())
    }

    /// Drops schema `id` once no version (live or soft-deleted) uses it.
    fn forget_id_if_unused(&mut self, id: i32) {
        if self.versions.values().any(|e| e.id == id) {
            return;
        }
        if let Some(old) = self.ids.remove(&id) {
            self.by_content
                .remove(&(old.schema_type, old.schema, old.references));
        }
        self.parsed.remove(&id);
    }

    /// Applies a record this writer produces and collects it for the log.
    fn emit(
        &mut self,
        out: &mut Vec<KeyedRecord>,
        key: SchemasKey,
        value: Option<Vec<u8>>,
    ) -> Result<(), RegistryError> {
        let key = key.encode();
        self.apply(&key, value.as_deref())
            .map_err(RegistryError::Store)?;
        out.push((Bytes::from(key), value.map(Bytes::from)));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Writes

    /// Runs `request` against the latest state: the records that carry it out (already
    /// applied) and the answer.
    pub fn write(&mut self, request: WriteRequest) -> (Vec<KeyedRecord>, Reply) {
        let mut out = Vec::new();
        if !self.loaded {
            // The placeholder of a shard still loading (or one unloaded): nothing may be
            // decided on a state that is not the log's yet.
            return (
                out,
                Err(RegistryError::UnknownLeader(
                    "the registry's writer is loading _schemas".into(),
                )),
            );
        }
        let reply = match request {
            WriteRequest::Register { subject, schema } => self.register(&mut out, subject, schema),
            WriteRequest::DeleteVersion {
                subject,
                version,
                permanent,
            } => self.delete_version(&mut out, &subject, version, permanent),
            WriteRequest::DeleteSubject { subject, permanent } => {
                self.delete_subject(&mut out, &subject, permanent)
            }
            WriteRequest::SetConfig { subject, level } => self
                .emit(
                    &mut out,
                    SchemasKey::Config { subject },
                    Some(records::encode(&ConfigValue {
                        compatibility_level: level.name().to_string(),
                    })),
                )
                .map(|()| WriteResult::Level(level)),
            WriteRequest::DeleteConfig { subject } => {
                let previous = self.configs.get(&subject).copied();
                match (previous, &subject) {
                    (None, Some(s)) => {
                        Err(RegistryError::SubjectCompatibilityNotConfigured(s.clone()))
                    }
                    (None, None) => Ok(WriteResult::Level(self.default_level)),
                    (Some(level), _) => self
                        .emit(&mut out, SchemasKey::Config { subject }, None)
                        .map(|()| WriteResult::Level(level)),
                }
            }
            WriteRequest::SetMode { subject, mode } => self
                .emit(
                    &mut out,
                    SchemasKey::Mode { subject },
                    Some(records::encode(&ModeValue {
                        mode: mode.name().to_string(),
                    })),
                )
                .map(|()| WriteResult::Mode(mode)),
            WriteRequest::DeleteMode { subject } => {
                let previous = self.modes.get(&subject).copied();
                match (previous, &subject) {
                    (None, Some(s)) => Err(RegistryError::SubjectModeNotConfigured(s.clone())),
                    (None, None) => Ok(WriteResult::Mode(Mode::ReadWrite)),
                    (Some(mode), _) => self
                        .emit(&mut out, SchemasKey::Mode { subject }, None)
                        .map(|()| WriteResult::Mode(mode)),
                }
            }
        };
        // Handlers check before they emit, so a refused request has no records; records
        // emitted before a later failure are applied already and go to the log with it.
        (out, reply)
    }

    fn register(
        &mut self,
        out: &mut Vec<KeyedRecord>,
        subject: String,
        request: SchemaRequest,
    ) -> Reply {
        let mode = self.effective_mode(Some(&subject));
        if matches!(mode, Mode::ReadOnly | Mode::ReadOnlyOverride) {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        if request.id.is_some() && mode != Mode::Import {
            return Err(RegistryError::OperationNotPermitted(
                "Overwrite new schema with id is not permitted outside IMPORT mode.".into(),
            ));
        }
        let parsed = self.parse(&request)?;
        let canonical = parsed.canonical();
        let content = (request.schema_type, canonical, request.references.clone());
        // The same schema already a live version of the subject: its id and version.
        let existing_id = self.by_content.get(&content).copied();
        if let Some(id) = existing_id {
            if let Some(version) = self
                .live_versions(&subject)
                .find(|(_, e)| e.id == id)
                .map(|(v, _)| v)
            {
                return Ok(WriteResult::Registered { id, version });
            }
        }
        if mode != Mode::Import {
            let level = self.effective_level(Some(&subject));
            if level != CompatibilityLevel::None {
                let previous = self.parsed_live_versions(&subject)?;
                let problems = compat::check(level, &parsed, &previous);
                if !problems.is_empty() {
                    return Err(RegistryError::Incompatible(subject, problems));
                }
            }
        }
        let id = match (request.id, existing_id) {
            (Some(id), _) => {
                if let Some(other) = self.ids.get(&id) {
                    if (other.schema_type, &other.schema, &other.references)
                        != (content.0, &content.1, &content.2)
                    {
                        return Err(RegistryError::OperationNotPermitted(format!(
                            "Overwrite new schema with id {id} is not permitted: another schema has it"
                        )));
                    }
                }
                id
            }
            (None, Some(id)) => id,
            (None, None) => self.ids.keys().next_back().map_or(1, |max| max + 1),
        };
        let version = match request.version {
            Some(v) if mode == Mode::Import => v,
            _ => {
                self.versions_of(&subject)
                    .map(|(v, _)| v)
                    .max()
                    .unwrap_or(0)
                    + 1
            }
        };
        self.parsed.insert(id, Arc::new(parsed));
        let value = SchemaValue {
            subject: subject.clone(),
            version,
            id,
            schema_type: content.0,
            references: content.2,
            schema: content.1,
            deleted: false,
        };
        self.emit(
            out,
            SchemasKey::Schema { subject, version },
            Some(records::encode(&value)),
        )?;
        Ok(WriteResult::Registered { id, version })
    }

    fn delete_version(
        &mut self,
        out: &mut Vec<KeyedRecord>,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Reply {
        self.writable(subject)?;
        if self.versions_of(subject).next().is_none() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let found = match spec {
            VersionSpec::Latest if permanent => self.versions_of(subject).next_back(),
            VersionSpec::Latest => self.live_versions(subject).next_back(),
            VersionSpec::Number(n) => self
                .versions
                .get(&(subject.to_string(), n))
                .map(|e| (n, *e)),
        };
        let Some((version, entry)) = found else {
            return Err(RegistryError::VersionNotFound(
                subject.to_string(),
                spec_text(spec),
            ));
        };
        if self.is_referenced(subject, version) {
            return Err(RegistryError::ReferenceExists(subject.to_string(), version));
        }
        if permanent {
            if !entry.deleted {
                return Err(RegistryError::VersionNotSoftDeleted(
                    subject.to_string(),
                    version,
                ));
            }
            self.emit(
                out,
                SchemasKey::Schema {
                    subject: subject.to_string(),
                    version,
                },
                None,
            )?;
        } else {
            if entry.deleted {
                return Err(RegistryError::VersionSoftDeleted(
                    subject.to_string(),
                    version,
                ));
            }
            self.emit_deleted(out, subject, version, entry.id)?;
        }
        Ok(WriteResult::Version(version))
    }

    fn delete_subject(
        &mut self,
        out: &mut Vec<KeyedRecord>,
        subject: &str,
        permanent: bool,
    ) -> Reply {
        self.writable(subject)?;
        let all: Vec<(i32, VersionEntry)> = self.versions_of(subject).collect();
        if all.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        for (version, _) in &all {
            if self.is_referenced(subject, *version) {
                return Err(RegistryError::ReferenceExists(
                    subject.to_string(),
                    *version,
                ));
            }
        }
        let live: Vec<(i32, VersionEntry)> =
            all.iter().filter(|(_, e)| !e.deleted).copied().collect();
        if permanent {
            if !live.is_empty() {
                return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
            }
            for (version, _) in &all {
                self.emit(
                    out,
                    SchemasKey::Schema {
                        subject: subject.to_string(),
                        version: *version,
                    },
                    None,
                )?;
            }
            let key = Some(subject.to_string());
            if self.configs.contains_key(&key) {
                self.emit(
                    out,
                    SchemasKey::Config {
                        subject: key.clone(),
                    },
                    None,
                )?;
            }
            if self.modes.contains_key(&key) {
                self.emit(out, SchemasKey::Mode { subject: key }, None)?;
            }
            Ok(WriteResult::Versions(all.iter().map(|(v, _)| *v).collect()))
        } else {
            if live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
            }
            for (version, entry) in &live {
                self.emit_deleted(out, subject, *version, entry.id)?;
            }
            Ok(WriteResult::Versions(
                live.iter().map(|(v, _)| *v).collect(),
            ))
        }
    }

    fn emit_deleted(
        &mut self,
        out: &mut Vec<KeyedRecord>,
        subject: &str,
        version: i32,
        id: i32,
    ) -> Result<(), RegistryError> {
        let Some(schema) = self.ids.get(&id).cloned() else {
            return Err(RegistryError::Store(format!("schema {id} is missing")));
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: schema.schema_type,
            references: schema.references,
            schema: schema.schema,
            deleted: true,
        };
        self.emit(
            out,
            SchemasKey::Schema {
                subject: subject.to_string(),
                version,
            },
            Some(records::encode(&value)),
        )
    }

    fn writable(&self, subject: &str) -> Result<(), RegistryError> {
        match self.effective_mode(Some(subject)) {
            Mode::ReadOnly | Mode::ReadOnlyOverride => Err(RegistryError::OperationNotPermitted(
                format!("Subject {subject} is in read-only mode"),
            )),
            _ => Ok(()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Parsing

    /// The schemas `references` name, deepest first, for the parser.
    fn dependencies(
        &self,
        references: &[SchemaReference],
    ) -> Result<Vec<Dependency>, RegistryError> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        self.collect_dependencies(references, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn collect_dependencies(
        &self,
        references: &[SchemaReference],
        depth: usize,
        seen: &mut BTreeSet<(String, i32)>,
        out: &mut Vec<Dependency>,
    ) -> Result<(), RegistryError> {
        if depth > MAX_REFERENCE_DEPTH {
            return Err(RegistryError::InvalidSchema(format!(
                "references nest deeper than {MAX_REFERENCE_DEPTH}"
            )));
        }
        for r in references {
            let spec = if r.version == -1 {
                VersionSpec::Latest
            } else {
                VersionSpec::Number(r.version)
            };
            let found = self.version(&r.subject, spec, false).map_err(|_| {
                RegistryError::InvalidSchema(format!(
                    "reference '{}' names subject '{}' version {}, which does not exist",
                    r.name, r.subject, r.version
                ))
            })?;
            if !seen.insert((found.subject.clone(), found.version)) {
                continue;
            }
            self.collect_dependencies(&found.schema.references, depth + 1, seen, out)?;
            out.push(Dependency {
                name: r.name.clone(),
                schema_type: found.schema.schema_type,
                schema: found.schema.schema,
            });
        }
        Ok(())
    }

    /// Parses a schema a request gives, its references resolved (42201 when it is invalid).
    pub fn parse(&self, request: &SchemaRequest) -> Result<ParsedSchema, RegistryError> {
        let dependencies = self.dependencies(&request.references)?;
        format::parse(request.schema_type, &request.schema, &dependencies)
            .map_err(RegistryError::InvalidSchema)
    }

    /// The parsed schema of id `id` (from the cache when the writer parsed it before).
    fn parsed_id(&mut self, id: i32) -> Result<Arc<ParsedSchema>, RegistryError> {
        if let Some(p) = self.parsed.get(&id) {
            return Ok(p.clone());
        }
        let stored = self
            .ids
            .get(&id)
            .cloned()
            .ok_or_else(|| RegistryError::Store(format!("schema {id} is missing")))?;
        let parsed = self
            .parse(&SchemaRequest {
                schema_type: stored.schema_type,
                schema: stored.schema,
                references: stored.references,
                id: None,
                version: None,
            })
            .map_err(|e| RegistryError::Store(format!("stored schema {id} does not parse: {e}")))?;
        let parsed = Arc::new(parsed);
        self.parsed.insert(id, parsed.clone());
        Ok(parsed)
    }

    fn parsed_live_versions(
        &mut self,
        subject: &str,
    ) -> Result<Vec<(i32, ParsedSchema)>, RegistryError> {
        let live: Vec<(i32, i32)> = self
            .live_versions(subject)
            .map(|(v, e)| (v, e.id))
            .collect();
        let mut out = Vec::with_capacity(live.len());
        for (version, id) in live {
            out.push((version, (*self.parsed_id(id)?).clone()));
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    fn versions_of<'a>(
        &'a self,
        subject: &str,
    ) -> impl DoubleEndedIterator<Item = (i32, VersionEntry)> + 'a {
        self.versions
            .range((subject.to_string(), i32::MIN)..=(subject.to_string(), i32::MAX))
            .map(|((_, v), e)| (*v, *e))
    }

    fn live_versions<'a>(
        &'a self,
        subject: &str,
    ) -> impl DoubleEndedIterator<Item = (i32, VersionEntry)> + 'a {
        self.versions_of(subject).filter(|(_, e)| !e.deleted)
    }

    /// Subjects with a live version (or any version, `deleted`), whose name starts with
    /// `prefix`, sorted.
    pub fn subjects(&self, deleted: bool, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ((subject, _), entry) in self.versions.iter() {
            if (deleted || !entry.deleted)
                && subject.starts_with(prefix)
                && out.last() != Some(subject)
            {
                out.push(subject.clone());
            }
        }
        out
    }

    /// A subject's version numbers (soft-deleted ones too with `deleted`).
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RegistryError> {
        let versions: Vec<i32> = self
            .versions_of(subject)
            .filter(|(_, e)| deleted || !e.deleted)
            .map(|(v, _)| v)
            .collect();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(versions)
    }

    /// One version of a subject (a soft-deleted one only with `deleted`).
    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        if self.versions_of(subject).next().is_none() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let found = match spec {
            VersionSpec::Latest => self
                .versions_of(subject)
                .rfind(|(_, e)| deleted || !e.deleted),
            VersionSpec::Number(n) => self
                .versions
                .get(&(subject.to_string(), n))
                .filter(|e| deleted || !e.deleted)
                .map(|e| (n, *e)),
        };
        let Some((version, entry)) = found else {
            if spec == VersionSpec::Latest && !deleted {
                return Err(RegistryError::SubjectNotFound(subject.to_string()));
            }
            return Err(RegistryError::VersionNotFound(
                subject.to_string(),
                spec_text(spec),
            ));
        };
        let schema = self
            .ids
            .get(&entry.id)
            .cloned()
            .ok_or_else(|| RegistryError::SchemaNotFound(entry.id.to_string()))?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id: entry.id,
            deleted: entry.deleted,
            schema,
        })
    }

    pub fn schema_by_id(&self, id: i32) -> Option<&StoredSchema> {
        self.ids.get(&id)
    }

    /// The (subject, version) pairs schema `id` is registered as.
    pub fn versions_by_id(&self, id: i32, deleted: bool) -> Vec<(String, i32)> {
        self.versions
            .iter()
            .filter(|(_, e)| e.id == id && (deleted || !e.deleted))
            .map(|((s, v), _)| (s.clone(), *v))
            .collect()
    }

    /// The version of `subject` whose schema is the one `request` gives.
    pub fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        if self.versions_of(subject).next().is_none() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let parsed = self.parse(request)?;
        let content = (
            request.schema_type,
            parsed.canonical(),
            request.references.clone(),
        );
        let id = self
            .by_content
            .get(&content)
            .copied()
            .ok_or_else(|| RegistryError::SchemaNotFound(String::new()))?;
        let (version, entry) = self
            .versions_of(subject)
            .rfind(|(_, e)| e.id == id && (deleted || !e.deleted))
            .ok_or_else(|| RegistryError::SchemaNotFound(String::new()))?;
        self.version(
            subject,
            VersionSpec::Number(version),
            entry.deleted || deleted,
        )
    }

    /// Whether `request` may be registered after version `against` of `subject` (or after
    /// the versions its level compares with, `None`): the problems found, empty if none.
    pub fn test_compatibility(
        &self,
        subject: &str,
        against: Option<VersionSpec>,
        request: &SchemaRequest,
    ) -> Result<Vec<String>, RegistryError> {
        let parsed = self.parse(request)?;
        let level = self.effective_level(Some(subject));
        let chosen: Vec<(i32, i32)> = match against {
            Some(spec) => {
                let v = self.version(subject, spec, false)?;
                vec![(v.version, v.id)]
            }
            None => self
                .live_versions(subject)
                .map(|(v, e)| (v, e.id))
                .collect(),
        };
        let mut previous = Vec::with_capacity(chosen.len());
        for (version, id) in chosen {
            let stored = self
                .ids
                .get(&id)
                .cloned()
                .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))?;
            let p = self
                .parse(&SchemaRequest {
                    schema_type: stored.schema_type,
                    schema: stored.schema,
                    references: stored.references,
                    id: None,
                    version: None,
                })
                .map_err(|e| RegistryError::Store(format!("stored schema {id}: {e}")))?;
            previous.push((version, p));
        }
        Ok(compat::check(level, &parsed, &previous))
    }

    /// Ids of the schemas that reference version `version` of `subject`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: BTreeSet<i32> = BTreeSet::new();
        for ((s, v), entry) in self.versions.iter() {
            let _ = (s, v);
            if entry.deleted {
                continue;
            }
            if let Some(schema) = self.ids.get(&entry.id) {
                if schema
                    .references
                    .iter()
                    .any(|r| r.subject == subject && self.resolves_to(r, version))
                {
                    ids.insert(entry.id);
                }
            }
        }
        ids.into_iter().collect()
    }

    fn resolves_to(&self, reference: &SchemaReference, version: i32) -> bool {
        if reference.version == -1 {
            self.live_versions(&reference.subject)
                .next_back()
                .is_some_and(|(v, _)| v == version)
        } else {
            reference.version == version
        }
    }

    fn is_referenced(&self, subject: &str, version: i32) -> bool {
        !self.referenced_by(subject, version).is_empty()
    }

    /// The level set for `subject` (`None`: the global one set), if any.
    pub fn config(&self, subject: Option<&str>) -> Option<CompatibilityLevel> {
        self.configs.get(&subject.map(str::to_string)).copied()
    }

    /// The level a registration under `subject` is checked with.
    pub fn effective_level(&self, subject: Option<&str>) -> CompatibilityLevel {
        subject
            .and_then(|s| self.config(Some(s)))
            .or_else(|| self.config(None))
            .unwrap_or(self.default_level)
    }

    pub fn mode(&self, subject: Option<&str>) -> Option<Mode> {
        self.modes.get(&subject.map(str::to_string)).copied()
    }

    pub fn effective_mode(&self, subject: Option<&str>) -> Mode {
        subject
            .and_then(|s| self.mode(Some(s)))
            .or_else(|| self.mode(None))
            .unwrap_or_default()
    }

    /// Whether schema `id` is registered (live) under `subject`: what broker-side schema
    /// validation asks.
    pub fn is_registered_under(&self, subject: &str, id: i32) -> bool {
        self.live_versions(subject).any(|(_, e)| e.id == id)
    }

    /// Every subject with its versions: for tests and diagnostics.
    pub fn dump(&self) -> BTreeMap<String, Vec<(i32, VersionEntry)>> {
        let mut out: BTreeMap<String, Vec<(i32, VersionEntry)>> = BTreeMap::new();
        for ((s, v), e) in self.versions.iter() {
            out.entry(s.clone()).or_default().push((*v, *e));
        }
        out
    }
}

fn spec_text(spec: VersionSpec) -> String {
    match spec {
        VersionSpec::Latest => "latest".to_string(),
        VersionSpec::Number(n) => n.to_string(),
    }
}

impl CoordinatorShard for SchemaRegistry {
    type Reply = Reply;

    fn error_reply(code: ErrorCode) -> Reply {
        Err(RegistryError::from_kafka(code))
    }

    fn fail_reply(_reply: Reply, code: ErrorCode) -> Reply {
        Err(RegistryError::from_kafka(code))
    }

    fn replay(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        _now_ms: i64,
    ) -> Result<(), RecordError> {
        self.apply(key, value).map_err(RecordError)
    }

    fn finish_loading(&mut self, _partition: i32) {
        self.loaded = true;
    }

    fn begin_write(&mut self, id: WriteId) {
        self.versions.begin_write(id);
        self.ids.begin_write(id);
        self.by_content.begin_write(id);
        self.configs.begin_write(id);
        self.modes.begin_write(id);
    }

    fn commit_through(&mut self, id: WriteId) {
        self.versions.commit_through(id);
        self.ids.commit_through(id);
        self.by_content.commit_through(id);
        self.configs.commit_through(id);
        self.modes.commit_through(id);
    }

    fn revert_from(&mut self, id: WriteId) {
        self.versions.revert_from(id);
        self.ids.revert_from(id);
        self.by_content.revert_from(id);
        self.configs.revert_from(id);
        self.modes.revert_from(id);
        self.parsed.clear();
    }

    fn unload(&mut self, _partition: i32) -> Vec<(Token, Reply)> {
        self.loaded = false;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#;
    const BAD: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"string"}]}"#;

    fn loaded() -> SchemaRegistry {
        let mut r = SchemaRegistry::new(CompatibilityLevel::Backward);
        r.finish_loading(0);
        r
    }

    fn avro(text: &str) -> SchemaRequest {
        SchemaRequest {
            schema_type: SchemaType::Avro,
            schema: text.to_string(),
            references: Vec::new(),
            id: None,
            version: None,
        }
    }

    fn register(r: &mut SchemaRegistry, subject: &str, text: &str) -> (Vec<KeyedRecord>, Reply) {
        r.write(WriteRequest::Register {
            subject: subject.into(),
            schema: avro(text),
        })
    }

    /// Replays `records` into a fresh registry: what a node reading the log gets.
    fn replayed(records: &[KeyedRecord]) -> SchemaRegistry {
        let mut r = loaded();
        for (k, v) in records {
            r.apply(k, v.as_deref()).unwrap();
        }
        r
    }

    #[test]
    fn a_loading_writer_decides_nothing() {
        let mut r = SchemaRegistry::new(CompatibilityLevel::Backward);
        let (records, reply) = register(&mut r, "s", V1);
        assert!(records.is_empty());
        assert_eq!(reply.unwrap_err().error_code(), 50004);
    }

    #[test]
    fn registrations_ids_versions_and_compatibility() {
        let mut r = loaded();
        let mut log = Vec::new();
        let (rec, reply) = register(&mut r, "s", V1);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 1, version: 1 }));
        // Again: same id and version, nothing written.
        let (rec, reply) = register(&mut r, "s", &format!("  {V1}\n"));
        assert!(rec.is_empty());
        assert_eq!(reply, Ok(WriteResult::Registered { id: 1, version: 1 }));
        // Incompatible under BACKWARD (a field without default): 409, nothing written.
        let (rec, reply) = register(&mut r, "s", BAD);
        assert!(rec.is_empty());
        assert_eq!(reply.unwrap_err().error_code(), 409);
        let (rec, reply) = register(&mut r, "s", V2);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 2, version: 2 }));
        // The same schema under another subject keeps its id.
        let (rec, reply) = register(&mut r, "t", V1);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 1, version: 1 }));
        // NONE lets the incompatible one in.
        let (rec, _) = r.write(WriteRequest::SetConfig {
            subject: Some("s".into()),
            level: CompatibilityLevel::None,
        });
        log.extend(rec);
        let (rec, reply) = register(&mut r, "s", BAD);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 3, version: 3 }));
        // A node replaying the log has the writer's state.
        let other = replayed(&log);
        assert_eq!(other.dump(), r.dump());
        assert_eq!(other.config(Some("s")), Some(CompatibilityLevel::None));
        assert_eq!(other.subjects(false, ""), vec!["s", "t"]);
        assert!(other.is_registered_under("s", 2) && !other.is_registered_under("t", 2));
    }

    #[test]
    fn soft_then_hard_deletes() {
        let mut r = loaded();
        let mut log = Vec::new();
        log.extend(register(&mut r, "s", V1).0);
        let code = |reply: Reply| reply.unwrap_err().error_code();
        let delete = |r: &mut SchemaRegistry, permanent| {
            r.write(WriteRequest::DeleteSubject {
                subject: "s".into(),
                permanent,
            })
        };
        assert_eq!(code(delete(&mut r, true).1), 40405);
        let (rec, reply) = delete(&mut r, false);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Versions(vec![1])));
        assert_eq!(code(delete(&mut r, false).1), 40404);
        assert_eq!(r.versions("s", false).unwrap_err().error_code(), 40401);
        assert_eq!(r.versions("s", true), Ok(vec![1]));
        let (rec, reply) = delete(&mut r, true);
        log.extend(rec);
        assert_eq!(reply, Ok(WriteResult::Versions(vec![1])));
        assert!(r.schema_by_id(1).is_none());
        assert_eq!(replayed(&log).dump(), r.dump());
    }

    #[test]
    fn a_failed_write_is_undone() {
        let mut r = loaded();
        r.begin_write(1);
        let _ = register(&mut r, "s", V1);
        r.commit_through(1);
        r.begin_write(2);
        let (_, reply) = register(&mut r, "s", V2);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 2, version: 2 }));
        r.revert_from(2);
        assert_eq!(r.versions("s", true), Ok(vec![1]));
        assert!(r.schema_by_id(2).is_none());
        // The id is given again, to whatever comes next.
        r.begin_write(3);
        let (_, reply) = register(&mut r, "u", BAD);
        assert_eq!(reply, Ok(WriteResult::Registered { id: 2, version: 1 }));
    }

    #[test]
    fn versions_parse_as_confluent_accepts_them() {
        assert_eq!(VersionSpec::parse("latest"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("-1"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("3"), Ok(VersionSpec::Number(3)));
        for bad in ["0", "-2", "x", "", "1.0", "99999999999"] {
            assert_eq!(
                VersionSpec::parse(bad).unwrap_err().error_code(),
                42202,
                "{bad}"
            );
        }
    }
}
