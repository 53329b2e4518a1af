use super::*;
use base64::Engine;
use prost_reflect::prost::Message;

fn parse(text: &str) -> ProtobufSchema {
    match ProtobufSchema::parse(text, &[]) {
        Ok(s) => s,
        Err(e) => panic!("schema did not parse: {e}\n{text}"),
    }
}

fn dependency(name: &str, schema: &str) -> Dependency {
    Dependency {
        name: name.to_string(),
        schema_type: SchemaType::Protobuf,
        schema: schema.to_string(),
    }
}

/// The base64 FileDescriptorProto of `text` (with `dependencies` as include files), built as
/// confluent-kafka's Python serializer sends it: compiled, encoded, base64.
fn base64_descriptor(name: &str, text: &str, dependencies: &[(&str, &str)]) -> String {
    struct Files(Vec<(String, String)>);
    impl FileResolver for Files {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            match self.0.iter().find(|(n, _)| n == name) {
                Some((n, text)) => File::from_source(n, text),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }
    let mut files = vec![(name.to_string(), text.to_string())];
    files.extend(
        dependencies
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string())),
    );
    let mut resolver = ChainFileResolver::new();
    resolver.add(Files(files));
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.open_file(name).expect("test schema compiles");
    // Encoded from the pool, which keeps custom (extension) options, as protoc's output does.
    let file = compiler
        .descriptor_pool()
        .get_file_by_name(name)
        .expect("compiled file is in the pool");
    base64::engine::general_purpose::STANDARD.encode(encode_without_source_info(&file))
}

const RICH: &str = r#"
// A comment that the canonical text drops.
syntax = "proto3";

package shop.v1;

import "google/protobuf/timestamp.proto";

option java_package = "com.example.shop";
option go_package = "example.com/shop";

/* The order. */
message Order {
  enum Status { STATUS_UNSPECIFIED = 0; PAID = 1; SHIPPED = 2 [deprecated = true];
    reserved 5, 10 to 20; reserved "OLD"; }
  message Line { string sku = 1; int32 quantity = 2; }
  map<string, int64> counters = 7;
  message Note { string text = 1; }
  string id = 1;
  repeated Line lines = 2;
  Status status = 3;
  google.protobuf.Timestamp created = 4;
  optional string coupon = 5 [json_name = "couponCode"];
  oneof payment {
    string card = 10;
    string iban = 11;
  }
  repeated int32 scores = 12 [packed = false];
  reserved 20, 30 to 40, 100 to max;
  reserved "legacy";
}

message Empty {}

enum Top { TOP_UNSPECIFIED = 0; TOP_ONE = 1; }

service Shop {
  rpc Place (Order) returns (Empty);
  rpc Watch (stream Order) returns (stream Order) { option deprecated = true; }
}
"#;

#[test]
fn canonical_is_the_same_for_proto_text_and_base64_descriptor() {
    let from_text = parse(RICH);
    let b64 = base64_descriptor("any/name.proto", RICH, &[]);
    let from_descriptor = parse(&b64);
    assert_eq!(from_text.canonical(), from_descriptor.canonical());
    // The canonical text parses to itself (the registry stores it and parses it again).
    assert_eq!(
        parse(&from_text.canonical()).canonical(),
        from_text.canonical()
    );
    // And the serialized form parses to the same schema.
    assert_eq!(
        parse(&from_text.serialized()).canonical(),
        from_text.canonical()
    );
    // Base64 wrapped over lines, with surrounding whitespace, or without padding, is read too.
    let wrapped: Vec<String> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let wrapped = format!("\n  {}\n", wrapped.join("\n"));
    assert_eq!(parse(&wrapped).canonical(), from_text.canonical());
    assert_eq!(
        parse(b64.trim_end_matches('=')).canonical(),
        from_text.canonical()
    );
}

#[test]
fn canonical_ignores_layout_and_comments() {
    let a = "syntax = \"proto3\"; package p; message M { int32 a = 1; string b = 2; }";
    let b = "// comment\nsyntax=\"proto3\";\n\npackage   p;\n/* x */ message M {\n  int32 a = 1; // one\n\n  string b = 2;\n}\n";
    assert_eq!(parse(a).canonical(), parse(b).canonical());
    let c = "syntax = \"proto3\"; package p; message M { int32 a = 1; string c = 2; }";
    assert_ne!(parse(a).canonical(), parse(c).canonical());
}

#[test]
fn canonical_text_of_a_rich_schema() {
    let canonical = parse(RICH).canonical();
    let expected = r#"syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

option java_package = "com.example.shop";
option go_package = "example.com/shop";

message Order {
  enum Status {
    STATUS_UNSPECIFIED = 0;
    PAID = 1;
    SHIPPED = 2 [deprecated = true];
    reserved 5, 10 to 20;
    reserved "OLD";
  }
  message Line {
    string sku = 1;
    int32 quantity = 2;
  }
  map<string, int64> counters = 7;
  string id = 1;
  repeated .shop.v1.Order.Line lines = 2;
  .shop.v1.Order.Status status = 3;
  .google.protobuf.Timestamp created = 4;
  optional string coupon = 5 [json_name = "couponCode"];
  oneof payment {
    string card = 10;
    string iban = 11;
  }
  repeated int32 scores = 12 [packed = false];
  message Note {
    string text = 1;
  }
  reserved 20, 30 to 40, 100 to max;
  reserved "legacy";
}

message Empty {
}

enum Top {
  TOP_UNSPECIFIED = 0;
  TOP_ONE = 1;
}

service Shop {
  rpc Place (.shop.v1.Order) returns (.shop.v1.Empty);
  rpc Watch (stream .shop.v1.Order) returns (stream .shop.v1.Order) {
    option deprecated = true;
  }
}
"#;
    assert_eq!(canonical, expected, "{canonical}");
}

#[test]
fn canonical_keeps_the_nested_message_order() {
    // Confluent's message indexes count nested types in order: the map entry generated
    // between Line and Note must stay there when the canonical text is compiled again.
    let original = parse(RICH);
    let again = parse(&original.canonical());
    let names = |s: &ProtobufSchema| -> Vec<String> {
        let order = s
            .descriptor_pool()
            .get_message_by_name("shop.v1.Order")
            .expect("Order exists");
        order
            .child_messages()
            .map(|m| m.full_name().to_string())
            .collect()
    };
    assert_eq!(
        names(&original),
        vec![
            "shop.v1.Order.Line",
            "shop.v1.Order.CountersEntry",
            "shop.v1.Order.Note"
        ]
    );
    assert_eq!(names(&original), names(&again));
    assert_eq!(
        original.message_names(),
        vec!["shop.v1.Order", "shop.v1.Empty"]
    );
    assert_eq!(again.message_names(), original.message_names());
}

#[test]
fn proto2_features_print_and_parse_back() {
    let text = r#"
syntax = "proto2";
package legacy;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions { optional string label = 50001; }
message Item {
  required int64 id = 1;
  optional string name = 2 [default = "a \"b\"\n", (label) = "x"];
  optional bytes raw = 3 [default = "\001\377z"];
  optional double ratio = 4 [default = 1.5];
  optional Kind kind = 5 [default = BIG];
  repeated group Part = 6 { optional int32 size = 1; }
  enum Kind { SMALL = 1; BIG = 2; }
  extensions 100 to 199;
  message Inner { optional int32 x = 1; }
}
extend Item { optional int32 extra = 100; }
"#;
    let schema = parse(text);
    let canonical = schema.canonical();
    for expected in [
        "required int64 id = 1;",
        "optional string name = 2 [default = \"a \\\"b\\\"\\n\", (.legacy.label) = \"x\"];",
        "optional bytes raw = 3 [default = \"\\001\\377z\"];",
        "optional double ratio = 4 [default = 1.5];",
        "optional .legacy.Item.Kind kind = 5 [default = BIG];",
        "repeated group Part = 6 {",
        "extensions 100 to 199;",
        "extend .legacy.Item {",
        "optional int32 extra = 100;",
        "extend .google.protobuf.FieldOptions {",
    ] {
        assert!(
            canonical.contains(expected),
            "{expected} missing in\n{canonical}"
        );
    }
    let again = parse(&canonical);
    assert_eq!(again.canonical(), canonical);
    let b64 = base64_descriptor("legacy.proto", text, &[]);
    assert_eq!(parse(&b64).canonical(), canonical);
}

#[test]
fn groups_and_extensions_keep_the_message_order() {
    // Groups generate their message where they are declared, in a message and at top level
    // (in an extend): the order of messages, which message indexes count, must survive.
    let text = r#"
syntax = "proto2";
package g;
message First { optional int32 a = 1; extensions 10 to 20; }
extend First { optional group Ext = 10 { optional int32 e = 1; } }
message Second {
  message Before { optional int32 b = 1; }
  oneof choice {
    group Picked = 1 { optional string p = 1; }
    int32 other = 2;
  }
  map<int32, string> m = 3;
  message After { optional int32 c = 1; }
  optional group Late = 4 { optional int32 l = 1; }
}
message Third { optional int32 t = 1; }
"#;
    let schema = parse(text);
    assert_eq!(
        schema.message_names(),
        vec!["g.First", "g.Ext", "g.Second", "g.Third"]
    );
    let again = parse(&schema.canonical());
    assert_eq!(again.message_names(), schema.message_names());
    let nested = |s: &ProtobufSchema| -> Vec<String> {
        s.descriptor_pool()
            .get_message_by_name("g.Second")
            .expect("Second exists")
            .child_messages()
            .map(|m| m.name().to_string())
            .collect()
    };
    assert_eq!(
        nested(&schema),
        vec!["Before", "Picked", "MEntry", "After", "Late"]
    );
    assert_eq!(nested(&again), nested(&schema));
    let canonical = schema.canonical();
    assert!(
        canonical.contains("optional group Ext = 10 {"),
        "{canonical}"
    );
    assert!(canonical.contains("group Picked = 1 {"), "{canonical}");
}

#[test]
fn a_dependency_named_like_the_schema_file_is_fine() {
    let dep = dependency(
        ROOT_FILE_NAME,
        "syntax = \"proto3\"; package d; message D { int32 x = 1; }",
    );
    let text =
        format!("syntax = \"proto3\"; import \"{ROOT_FILE_NAME}\"; message M {{ d.D d = 1; }}");
    let schema = ProtobufSchema::parse(&text, &[dep]).expect("the root file takes another name");
    assert_eq!(schema.message_names(), vec!["M"]);
}

#[test]
fn import_of_a_dependency() {
    let other = "syntax = \"proto3\"; package other; message Money { int64 units = 1; }";
    let text = "syntax = \"proto3\"; package p; import \"other.proto\"; \
                message Price { other.Money amount = 1; }";
    let schema = ProtobufSchema::parse(text, &[dependency("other.proto", other)])
        .expect("import resolves to the dependency");
    assert!(schema.canonical().contains("import \"other.proto\";"));
    assert!(schema.canonical().contains(".other.Money amount = 1;"));
    // The dependency given as a base64 descriptor (with another file name inside) works too.
    let other_b64 = base64_descriptor("somewhere/else.proto", other, &[]);
    let schema2 = ProtobufSchema::parse(text, &[dependency("other.proto", &other_b64)])
        .expect("base64 dependency resolves");
    assert_eq!(schema.canonical(), schema2.canonical());
    // Without the dependency: the import is missing.
    let err = ProtobufSchema::parse(text, &[]).expect_err("missing import");
    assert!(err.contains("other.proto"), "{err}");
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn import_of_a_dependency_of_a_dependency() {
    let base = "syntax = \"proto3\"; package b; message Id { string v = 1; }";
    let mid = "syntax = \"proto3\"; package m; import \"base.proto\"; message Ref { b.Id id = 1; }";
    let text = "syntax = \"proto3\"; import \"mid.proto\"; message Top { m.Ref r = 1; }";
    let deps = [dependency("base.proto", base), dependency("mid.proto", mid)];
    ProtobufSchema::parse(text, &deps).expect("transitive imports resolve");
}

#[test]
fn well_known_import_needs_no_dependency() {
    let text = "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; \
                import \"google/protobuf/wrappers.proto\"; \
                message E { google.protobuf.Timestamp at = 1; google.protobuf.StringValue s = 2; }";
    let schema = parse(text);
    assert!(schema
        .canonical()
        .contains(".google.protobuf.Timestamp at = 1;"));
}

#[test]
fn syntax_errors_are_reported_with_position() {
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage M {\n  int32 a = ;\n}\n", &[])
        .expect_err("syntax error");
    assert!(err.contains("schema.proto"), "{err}");
    assert!(err.contains(":3:"), "line 3 expected in: {err}");
    let err = ProtobufSchema::parse("syntax = \"proto5\";", &[]).expect_err("bad syntax");
    assert!(!err.is_empty());
    let err = ProtobufSchema::parse("message {", &[]).expect_err("truncated");
    assert!(!err.is_empty());
}

#[test]
fn unknown_type_is_an_error() {
    let err = ProtobufSchema::parse(
        "syntax = \"proto3\";\nmessage M {\n  Missing m = 1;\n}\n",
        &[],
    )
    .expect_err("unknown type");
    assert!(err.contains("Missing"), "{err}");
}

#[test]
fn other_invalid_schemas_are_errors() {
    for (text, what) in [
        (
            "syntax = \"proto3\"; message M { int32 a = 1; int32 b = 1; }",
            "duplicate number",
        ),
        (
            "syntax = \"proto3\"; message M { int32 a = 0; }",
            "number 0",
        ),
        (
            "syntax = \"proto3\"; message M { required int32 a = 1; }",
            "required in proto3",
        ),
        (
            "syntax = \"proto3\"; enum E { A = 1; }",
            "proto3 enum without zero",
        ),
        ("aGVsbG8gd29ybGQ=", "base64 that is no descriptor"),
        ("AAAA", "base64 of zero bytes that is no descriptor"),
        ("!!!", "garbage"),
    ] {
        assert!(
            ProtobufSchema::parse(text, &[]).is_err(),
            "{what} should not parse"
        );
    }
}

#[test]
fn an_import_of_a_non_protobuf_reference_is_an_error() {
    let dep = Dependency {
        name: "other.proto".into(),
        schema_type: SchemaType::Avro,
        schema: "\"string\"".into(),
    };
    let err = ProtobufSchema::parse("syntax = \"proto3\"; import \"other.proto\";", &[dep])
        .expect_err("avro import");
    assert!(err.contains("AVRO"), "{err}");
}

#[test]
fn an_import_cycle_is_an_error() {
    let a = dependency("a.proto", "syntax = \"proto3\"; import \"b.proto\";");
    let b = dependency("b.proto", "syntax = \"proto3\"; import \"a.proto\";");
    let err = ProtobufSchema::parse("syntax = \"proto3\"; import \"a.proto\";", &[a, b])
        .expect_err("cycle");
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn corrupted_descriptors_never_panic() {
    let b64 = base64_descriptor("rich.proto", RICH, &[]);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .expect("valid base64");
    let mut accepted = 0;
    for i in 0..bytes.len() {
        for replacement in [0x00u8, 0x01, 0x7f, 0xff, bytes[i] ^ 0x20] {
            let mut corrupted = bytes.clone();
            corrupted[i] = replacement;
            let text = base64::engine::general_purpose::STANDARD.encode(&corrupted);
            let result = std::panic::catch_unwind(|| ProtobufSchema::compile_once(&text, &[]));
            if result.is_err() {
                eprintln!("byte {i} set to {replacement:#x}: the descriptor library panicked");
            }
            if let Ok(schema) = ProtobufSchema::parse(&text, &[]) {
                accepted += 1;
                // Whatever was accepted prints and compares without panicking.
                let _ = parse(&schema.canonical());
                let _ = schema.can_read(&schema);
            }
        }
        // Truncated descriptors too.
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes[..i]);
        let _ = ProtobufSchema::parse(&text, &[]);
    }
    assert!(accepted > 0);
}

#[test]
fn a_descriptor_with_an_unknown_syntax_is_an_error() {
    // prost-reflect panics while labelling this error; the panic must not escape.
    let descriptor = FileDescriptorProto {
        name: Some("x.proto".into()),
        syntax: Some("PROTO3".into()),
        ..Default::default()
    };
    let text = base64::engine::general_purpose::STANDARD.encode(descriptor.encode_to_vec());
    assert!(ProtobufSchema::parse(&text, &[]).is_err());
    let editions = FileDescriptorProto {
        name: Some("x.proto".into()),
        syntax: Some("editions".into()),
        ..Default::default()
    };
    let text = base64::engine::general_purpose::STANDARD.encode(editions.encode_to_vec());
    assert!(ProtobufSchema::parse(&text, &[]).is_err());
}

#[test]
fn serialized_has_no_source_info_and_keeps_custom_options() {
    let text = "syntax = \"proto2\"; import \"google/protobuf/descriptor.proto\";\n\
                // a comment\n\
                extend google.protobuf.MessageOptions { optional string tag = 50001; }\n\
                message M { option (tag) = \"t\"; optional int32 a = 1; }";
    let schema = parse(text);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(schema.serialized())
        .expect("valid base64");
    let descriptor = FileDescriptorProto::decode(bytes.as_slice()).expect("a descriptor");
    assert!(descriptor.source_code_info.is_none());
    let again = parse(&schema.serialized());
    assert!(
        again.canonical().contains("option (.tag) = \"t\";"),
        "{}",
        again.canonical()
    );
    assert_eq!(again.canonical(), schema.canonical());
}

/// `google/protobuf/struct.proto` as confluent-kafka's Python serializer registers it: the
/// base64 of the `serialized_pb` that protoc generated (taken from Python's protobuf 7.x
/// `struct_pb2.DESCRIPTOR`).
const STRUCT_PROTO_FROM_PYTHON: &str =
    "Chxnb29nbGUvcHJvdG9idWYvc3RydWN0LnByb3RvEg9nb29nbGUucHJvdG9idWYimAEKBlN0cnVjdBI7CgZmaWVsZH\
    MYASADKAsyIy5nb29nbGUucHJvdG9idWYuU3RydWN0LkZpZWxkc0VudHJ5UgZmaWVsZHMaUQoLRmllbGRzRW50cnkS\
    EAoDa2V5GAEgASgJUgNrZXkSLAoFdmFsdWUYAiABKAsyFi5nb29nbGUucHJvdG9idWYuVmFsdWVSBXZhbHVlOgI4AS\
    KyAgoFVmFsdWUSOwoKbnVsbF92YWx1ZRgBIAEoDjIaLmdvb2dsZS5wcm90b2J1Zi5OdWxsVmFsdWVIAFIJbnVsbFZh\
    bHVlEiMKDG51bWJlcl92YWx1ZRgCIAEoAUgAUgtudW1iZXJWYWx1ZRIjCgxzdHJpbmdfdmFsdWUYAyABKAlIAFILc3\
    RyaW5nVmFsdWUSHwoKYm9vbF92YWx1ZRgEIAEoCEgAUglib29sVmFsdWUSPAoMc3RydWN0X3ZhbHVlGAUgASgLMhcu\
    Z29vZ2xlLnByb3RvYnVmLlN0cnVjdEgAUgtzdHJ1Y3RWYWx1ZRI7CgpsaXN0X3ZhbHVlGAYgASgLMhouZ29vZ2xlLn\
    Byb3RvYnVmLkxpc3RWYWx1ZUgAUglsaXN0VmFsdWVCBgoEa2luZCI7CglMaXN0VmFsdWUSLgoGdmFsdWVzGAEgAygL\
    MhYuZ29vZ2xlLnByb3RvYnVmLlZhbHVlUgZ2YWx1ZXMqGwoJTnVsbFZhbHVlEg4KCk5VTExfVkFMVUUQAEJ/ChNjb2\
    0uZ29vZ2xlLnByb3RvYnVmQgtTdHJ1Y3RQcm90b1ABWi9nb29nbGUuZ29sYW5nLm9yZy9wcm90b2J1Zi90eXBlcy9r\
    bm93bi9zdHJ1Y3RwYvgBAaICA0dQQqoCHkdvb2dsZS5Qcm90b2J1Zi5XZWxsS25vd25UeXBlc2IGcHJvdG8z";

/// `google/protobuf/type.proto` likewise (it imports any.proto and source_context.proto).
const TYPE_PROTO_FROM_PYTHON: &str =
    "Chpnb29nbGUvcHJvdG9idWYvdHlwZS5wcm90bxIPZ29vZ2xlLnByb3RvYnVmGhlnb29nbGUvcHJvdG9idWYvYW55Ln\
    Byb3RvGiRnb29nbGUvcHJvdG9idWYvc291cmNlX2NvbnRleHQucHJvdG8ipwIKBFR5cGUSEgoEbmFtZRgBIAEoCVIE\
    bmFtZRIuCgZmaWVsZHMYAiADKAsyFi5nb29nbGUucHJvdG9idWYuRmllbGRSBmZpZWxkcxIWCgZvbmVvZnMYAyADKA\
    lSBm9uZW9mcxIxCgdvcHRpb25zGAQgAygLMhcuZ29vZ2xlLnByb3RvYnVmLk9wdGlvblIHb3B0aW9ucxJFCg5zb3Vy\
    Y2VfY29udGV4dBgFIAEoCzIeLmdvb2dsZS5wcm90b2J1Zi5Tb3VyY2VDb250ZXh0Ug1zb3VyY2VDb250ZXh0Ei8KBn\
    N5bnRheBgGIAEoDjIXLmdvb2dsZS5wcm90b2J1Zi5TeW50YXhSBnN5bnRheBIYCgdlZGl0aW9uGAcgASgJUgdlZGl0\
    aW9uIrQGCgVGaWVsZBIvCgRraW5kGAEgASgOMhsuZ29vZ2xlLnByb3RvYnVmLkZpZWxkLktpbmRSBGtpbmQSRAoLY2\
    FyZGluYWxpdHkYAiABKA4yIi5nb29nbGUucHJvdG9idWYuRmllbGQuQ2FyZGluYWxpdHlSC2NhcmRpbmFsaXR5EhYK\
    Bm51bWJlchgDIAEoBVIGbnVtYmVyEhIKBG5hbWUYBCABKAlSBG5hbWUSGQoIdHlwZV91cmwYBiABKAlSB3R5cGVVcm\
    wSHwoLb25lb2ZfaW5kZXgYByABKAVSCm9uZW9mSW5kZXgSFgoGcGFja2VkGAggASgIUgZwYWNrZWQSMQoHb3B0aW9u\
    cxgJIAMoCzIXLmdvb2dsZS5wcm90b2J1Zi5PcHRpb25SB29wdGlvbnMSGwoJanNvbl9uYW1lGAogASgJUghqc29uTm\
    FtZRIjCg1kZWZhdWx0X3ZhbHVlGAsgASgJUgxkZWZhdWx0VmFsdWUiyAIKBEtpbmQSEAoMVFlQRV9VTktOT1dOEAAS\
    DwoLVFlQRV9ET1VCTEUQARIOCgpUWVBFX0ZMT0FUEAISDgoKVFlQRV9JTlQ2NBADEg8KC1RZUEVfVUlOVDY0EAQSDg\
    oKVFlQRV9JTlQzMhAFEhAKDFRZUEVfRklYRUQ2NBAGEhAKDFRZUEVfRklYRUQzMhAHEg0KCVRZUEVfQk9PTBAIEg8K\
    C1RZUEVfU1RSSU5HEAkSDgoKVFlQRV9HUk9VUBAKEhAKDFRZUEVfTUVTU0FHRRALEg4KClRZUEVfQllURVMQDBIPCg\
    tUWVBFX1VJTlQzMhANEg0KCVRZUEVfRU5VTRAOEhEKDVRZUEVfU0ZJWEVEMzIQDxIRCg1UWVBFX1NGSVhFRDY0EBAS\
    DwoLVFlQRV9TSU5UMzIQERIPCgtUWVBFX1NJTlQ2NBASInQKC0NhcmRpbmFsaXR5EhcKE0NBUkRJTkFMSVRZX1VOS0\
    5PV04QABIYChRDQVJESU5BTElUWV9PUFRJT05BTBABEhgKFENBUkRJTkFMSVRZX1JFUVVJUkVEEAISGAoUQ0FSRElO\
    QUxJVFlfUkVQRUFURUQQAyKZAgoERW51bRISCgRuYW1lGAEgASgJUgRuYW1lEjgKCWVudW12YWx1ZRgCIAMoCzIaLm\
    dvb2dsZS5wcm90b2J1Zi5FbnVtVmFsdWVSCWVudW12YWx1ZRIxCgdvcHRpb25zGAMgAygLMhcuZ29vZ2xlLnByb3Rv\
    YnVmLk9wdGlvblIHb3B0aW9ucxJFCg5zb3VyY2VfY29udGV4dBgEIAEoCzIeLmdvb2dsZS5wcm90b2J1Zi5Tb3VyY2\
    VDb250ZXh0Ug1zb3VyY2VDb250ZXh0Ei8KBnN5bnRheBgFIAEoDjIXLmdvb2dsZS5wcm90b2J1Zi5TeW50YXhSBnN5\
    bnRheBIYCgdlZGl0aW9uGAYgASgJUgdlZGl0aW9uImoKCUVudW1WYWx1ZRISCgRuYW1lGAEgASgJUgRuYW1lEhYKBm\
    51bWJlchgCIAEoBVIGbnVtYmVyEjEKB29wdGlvbnMYAyADKAsyFy5nb29nbGUucHJvdG9idWYuT3B0aW9uUgdvcHRp\
    b25zIkgKBk9wdGlvbhISCgRuYW1lGAEgASgJUgRuYW1lEioKBXZhbHVlGAIgASgLMhQuZ29vZ2xlLnByb3RvYnVmLk\
    FueVIFdmFsdWUqQwoGU3ludGF4EhEKDVNZTlRBWF9QUk9UTzIQABIRCg1TWU5UQVhfUFJPVE8zEAESEwoPU1lOVEFY\
    X0VESVRJT05TEAJCewoTY29tLmdvb2dsZS5wcm90b2J1ZkIJVHlwZVByb3RvUAFaLWdvb2dsZS5nb2xhbmcub3JnL3\
    Byb3RvYnVmL3R5cGVzL2tub3duL3R5cGVwYvgBAaICA0dQQqoCHkdvb2dsZS5Qcm90b2J1Zi5XZWxsS25vd25UeXBl\
    c2IGcHJvdG8z";

#[test]
fn descriptors_generated_by_protoc_parse() {
    let s = parse(STRUCT_PROTO_FROM_PYTHON);
    let canonical = s.canonical();
    for expected in [
        "package google.protobuf;",
        "option java_package = \"com.google.protobuf\";",
        "map<string, .google.protobuf.Value> fields = 1;",
        "oneof kind {",
        ".google.protobuf.NullValue null_value = 1;",
        "repeated .google.protobuf.Value values = 1;",
    ] {
        assert!(
            canonical.contains(expected),
            "{expected} missing in\n{canonical}"
        );
    }
    assert_eq!(
        s.message_names(),
        vec![
            "google.protobuf.Struct",
            "google.protobuf.Value",
            "google.protobuf.ListValue"
        ]
    );
    assert!(s.can_read(&s).is_empty());

    let t = parse(TYPE_PROTO_FROM_PYTHON);
    assert!(t
        .canonical()
        .contains("import \"google/protobuf/any.proto\";"));
    assert!(t.canonical().contains(".google.protobuf.Any value = 2;"));
}

#[test]
fn protoc_descriptor_and_protox_source_give_the_same_canonical_text() {
    // The same file as STRUCT_PROTO_FROM_PYTHON, written as source in another layout (options
    // in another order, comments, relative type names): protoc's descriptor and protox's
    // compilation of the source print alike.
    let source = r#"
// Struct, Value and ListValue as the JSON-like well-known types define them.
syntax = "proto3";
package google.protobuf;
option csharp_namespace = "Google.Protobuf.WellKnownTypes";
option cc_enable_arenas = true;
option go_package = "google.golang.org/protobuf/types/known/structpb";
option java_package = "com.google.protobuf";
option java_outer_classname = "StructProto";
option java_multiple_files = true;
option objc_class_prefix = "GPB";
message Struct { map<string, Value> fields = 1; }
message Value {
  oneof kind {
    NullValue null_value = 1; double number_value = 2; string string_value = 3;
    bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6;
  }
}
enum NullValue { NULL_VALUE = 0; }
message ListValue { repeated Value values = 1; }
"#;
    assert_eq!(
        parse(source).canonical(),
        parse(STRUCT_PROTO_FROM_PYTHON).canonical()
    );
}

#[test]
fn descriptor_proto_itself_prints_and_parses_back() {
    // A large proto2 file: defaults, extension ranges, reserved ranges, nested enums,
    // deprecated fields and message-valued options (edition_defaults, feature_support).
    let file = DescriptorPool::global()
        .get_file_by_name("google/protobuf/descriptor.proto")
        .expect("prost-reflect ships descriptor.proto");
    let b64 = base64::engine::general_purpose::STANDARD.encode(encode_without_source_info(&file));
    let schema = parse(&b64);
    let canonical = schema.canonical();
    assert!(canonical.starts_with("syntax = \"proto2\";\npackage google.protobuf;\n"));
    assert!(canonical.contains("extensions 1000 to max;"), "{canonical}");
    assert_eq!(parse(&canonical).canonical(), canonical);
    assert_eq!(schema.message_names().len(), file.messages().len());
}

#[test]
fn schema_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ProtobufSchema>();
}

// ---------------------------------------------------------------------------------------------
// Compatibility

struct Row {
    writer: &'static str,
    reader: &'static str,
    compatible: bool,
    /// The rule the row exercises (Confluent's difference name), found in the report when
    /// incompatible.
    rule: &'static str,
}

const P3: &str = "syntax = \"proto3\"; package p; ";

fn rows() -> Vec<Row> {
    vec![
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { int32 a = 1; string b = 2; }",
            compatible: true,
            rule: "FIELD_ADDED",
        },
        Row {
            writer: "message M { int32 a = 1; string b = 2; }",
            reader: "message M { int32 a = 1; }",
            compatible: true,
            rule: "FIELD_REMOVED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { int32 renamed = 1; }",
            compatible: true,
            rule: "FIELD_NAME_CHANGED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { int32 a = 1; } message N { string s = 1; }",
            compatible: true,
            rule: "MESSAGE_ADDED",
        },
        Row {
            writer: "message M { int32 a = 1; } message N { string s = 1; }",
            reader: "message M { int32 a = 1; }",
            compatible: false,
            rule: "MESSAGE_REMOVED",
        },
        Row {
            writer: "message M { message Inner { int32 x = 1; } Inner i = 1; }",
            reader: "message M { message Inner2 { int32 x = 1; } Inner2 i = 1; }",
            compatible: false,
            rule: "MESSAGE_REMOVED",
        },
        Row {
            writer: "enum E { A = 0; } message M { E e = 1; }",
            reader: "enum E { A = 0; B = 1; } message M { E e = 1; }",
            compatible: true,
            rule: "ENUM_CONST_ADDED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { int64 a = 1; }",
            compatible: true,
            rule: "FIELD_SCALAR_KIND_CHANGED (int32 -> int64, one wire group)",
        },
        Row {
            writer: "message M { bool a = 1; }",
            reader: "message M { uint64 a = 1; }",
            compatible: true,
            rule: "FIELD_SCALAR_KIND_CHANGED (bool -> uint64, one wire group)",
        },
        Row {
            writer: "message M { sint32 a = 1; fixed32 b = 2; sfixed64 c = 3; string d = 4; }",
            reader: "message M { sint64 a = 1; sfixed32 b = 2; fixed64 c = 3; bytes d = 4; }",
            compatible: true,
            rule: "FIELD_SCALAR_KIND_CHANGED (within sint, fixed32, fixed64, string/bytes)",
        },
        Row {
            writer: "enum E { A = 0; } message M { E e = 1; }",
            reader: "enum E { A = 0; } message M { int32 e = 1; }",
            compatible: true,
            rule: "FIELD_SCALAR_KIND_CHANGED (enum -> int32, one wire group)",
        },
        Row {
            writer: "enum E { A = 0; } enum F { B = 0; } message M { E e = 1; }",
            reader: "enum E { A = 0; } enum F { B = 0; } message M { F e = 1; }",
            compatible: true,
            rule: "enum type replaced by another enum (Confluent: enums are numbers, no \
                   FIELD_NAMED_TYPE_CHANGED)",
        },
        Row {
            writer: "enum E { A = 0; B = 1; } message M { E e = 1; }",
            reader: "enum E { A = 0; } message M { E e = 1; }",
            compatible: true,
            rule: "ENUM_CONST_REMOVED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { string a = 1; }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { sint32 a = 1; }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { float a = 1; }",
            reader: "message M { double a = 1; }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { int32 a = 1; } message N { int32 x = 1; }",
            reader: "message M { N a = 1; } message N { int32 x = 1; }",
            compatible: false,
            rule: "FIELD_KIND_CHANGED",
        },
        Row {
            writer: "message M { map<string, int32> a = 1; }",
            reader: "message M { string a = 1; }",
            compatible: false,
            rule: "FIELD_KIND_CHANGED",
        },
        Row {
            writer: "message M { map<string, int32> a = 1; }",
            reader: "message M { map<string, string> a = 1; }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { map<string, int32> a = 1; }",
            reader: "message M { map<string, int64> a = 1; }",
            compatible: true,
            rule: "FIELD_SCALAR_KIND_CHANGED (map value within one wire group)",
        },
        Row {
            writer: "message M { A f = 1; } message A { int32 x = 1; } message B { int32 x = 1; }",
            reader: "message M { B f = 1; } message A { int32 x = 1; } message B { int32 x = 1; }",
            compatible: false,
            rule: "FIELD_NAMED_TYPE_CHANGED",
        },
        Row {
            writer: "message M { optional int32 a = 1; }",
            reader: "message M { repeated int32 a = 1; }",
            compatible: false,
            rule: "FIELD_NUMERIC_LABEL_CHANGED",
        },
        Row {
            writer: "message M { optional string a = 1; }",
            reader: "message M { repeated string a = 1; }",
            compatible: true,
            rule: "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
        },
        Row {
            writer: "message M { int32 a = 1; int32 b = 2; }",
            reader: "message M { oneof o { int32 a = 1; } int32 b = 2; }",
            compatible: true,
            rule: "one field moved into a new oneof",
        },
        Row {
            writer: "message M { int32 a = 1; int32 b = 2; }",
            reader: "message M { oneof o { int32 a = 1; int32 b = 2; } }",
            compatible: false,
            rule: "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
        },
        Row {
            writer: "message M { oneof o { int32 a = 1; } int32 b = 2; }",
            reader: "message M { oneof o { int32 a = 1; int32 b = 2; } }",
            compatible: false,
            rule: "FIELD_MOVED_TO_EXISTING_ONEOF",
        },
        Row {
            writer: "message M { oneof o { int32 a = 1; } }",
            reader: "message M { oneof o { int32 a = 1; int32 b = 2; } }",
            compatible: true,
            rule: "ONEOF_FIELD_ADDED",
        },
        Row {
            writer: "message M { oneof o { int32 a = 1; int32 b = 2; } }",
            reader: "message M { oneof o { int32 a = 1; } }",
            compatible: false,
            rule: "ONEOF_FIELD_REMOVED",
        },
        Row {
            writer: "message M { oneof o { int32 a = 1; int32 b = 2; } }",
            reader: "message M { oneof o { int32 a = 1; } int32 b = 2; }",
            compatible: true,
            rule: "a field moved out of a oneof (not ONEOF_FIELD_REMOVED)",
        },
        Row {
            writer: "message M { oneof o { int32 a = 1; } }",
            reader: "message M { oneof o { string a = 1; } }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { int32 a = 1; }",
            reader: "message M { oneof o { string a = 1; } }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
        Row {
            writer: "message M { message Inner { int32 x = 1; } Inner i = 1; }",
            reader: "message M { message Inner { string x = 1; } Inner i = 1; }",
            compatible: false,
            rule: "FIELD_SCALAR_KIND_CHANGED",
        },
    ]
}

/// Rows that need their own file header (proto2, packages, syntax).
fn whole_file_rows() -> Vec<Row> {
    vec![
        Row {
            writer: "syntax = \"proto2\"; message M { optional int32 a = 1; }",
            reader:
                "syntax = \"proto2\"; message M { optional int32 a = 1; required int32 b = 2; }",
            compatible: false,
            rule: "REQUIRED_FIELD_ADDED",
        },
        Row {
            writer:
                "syntax = \"proto2\"; message M { optional int32 a = 1; required int32 b = 2; }",
            reader: "syntax = \"proto2\"; message M { optional int32 a = 1; }",
            compatible: false,
            rule: "REQUIRED_FIELD_REMOVED",
        },
        Row {
            writer: "syntax = \"proto2\"; message M { optional int32 a = 1; }",
            reader:
                "syntax = \"proto2\"; message M { optional int32 a = 1; optional int32 b = 2; }",
            compatible: true,
            rule: "FIELD_ADDED (proto2 optional)",
        },
        Row {
            writer: "syntax = \"proto3\"; package a; message M { int32 a = 1; }",
            reader: "syntax = \"proto3\"; package b; message M { int32 a = 1; }",
            compatible: false,
            rule: "PACKAGE_CHANGED",
        },
        Row {
            writer: "syntax = \"proto2\"; message M { optional int32 a = 1; }",
            reader: "syntax = \"proto3\"; message M { int32 a = 1; }",
            compatible: false,
            rule: "SYNTAX_CHANGED",
        },
        Row {
            writer: "syntax = \"proto3\"; message M { int32 a = 1; }",
            reader: "// layout only\nsyntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n}\n",
            compatible: true,
            rule: "no change",
        },
    ]
}

#[test]
fn compatibility_table() {
    let mut table: Vec<(String, String, bool, &str)> = rows()
        .into_iter()
        .map(|r| {
            (
                format!("{P3}{}", r.writer),
                format!("{P3}{}", r.reader),
                r.compatible,
                r.rule,
            )
        })
        .collect();
    table.extend(whole_file_rows().into_iter().map(|r| {
        (
            r.writer.to_string(),
            r.reader.to_string(),
            r.compatible,
            r.rule,
        )
    }));
    assert!(table.len() >= 12);
    let mut failures = Vec::new();
    for (writer, reader, compatible, rule) in &table {
        let w = parse(writer);
        let r = parse(reader);
        let problems = r.can_read(&w);
        let ok = if *compatible {
            problems.is_empty()
        } else {
            // The rule named in the row is among the problems reported.
            let rule_name = rule.split_whitespace().next().unwrap_or_default();
            problems.iter().any(|p| p.starts_with(rule_name))
        };
        if !ok {
            failures.push(format!(
                "{rule}: expected compatible={compatible}, got {problems:?}\n  writer: {writer}\n  reader: {reader}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn named_type_change_in_an_imported_file_is_checked_recursively() {
    let v1 = "syntax = \"proto3\"; package dep; message Money { int64 units = 1; }";
    let v2 = "syntax = \"proto3\"; package dep; message Money { string units = 1; }";
    let text = "syntax = \"proto3\"; import \"money.proto\"; message Price { dep.Money m = 1; }";
    let writer = ProtobufSchema::parse(text, &[dependency("money.proto", v1)]).expect("v1");
    let reader = ProtobufSchema::parse(text, &[dependency("money.proto", v2)]).expect("v2");
    let problems = reader.can_read(&writer);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("FIELD_NAMED_TYPE_CHANGED")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("FIELD_SCALAR_KIND_CHANGED")),
        "{problems:?}"
    );
    let same = ProtobufSchema::parse(text, &[dependency("money.proto", v1)]).expect("v1 again");
    assert!(same.can_read(&writer).is_empty());
}

#[test]
fn recursive_messages_terminate() {
    let text = "syntax = \"proto3\"; message Node { repeated Node children = 1; Node parent = 2; }";
    let s = parse(text);
    assert!(s.can_read(&s).is_empty());
    let changed = parse(
        "syntax = \"proto3\"; message Node { repeated Node children = 1; string parent = 2; }",
    );
    assert!(!changed.can_read(&s).is_empty());
}

#[test]
fn incompatibility_messages_name_the_rule_and_the_place() {
    let w = parse("syntax = \"proto3\"; package p; message M { int32 a = 1; }");
    let r = parse("syntax = \"proto3\"; package p; message M { string a = 1; }");
    assert_eq!(
        r.can_read(&w),
        vec![
            "FIELD_SCALAR_KIND_CHANGED at #/M/1: the type changed from int32 to string, which do \
             not share a wire format"
                .to_string()
        ]
    );
}
#[test]
fn message_valued_custom_options_print_and_parse_back() {
    let meta = r#"syntax = "proto3"; package meta;
import "google/protobuf/descriptor.proto";
message Meta { string doc = 1; map<string, string> params = 2; repeated int32 tags = 3; }
extend google.protobuf.FieldOptions { Meta field_meta = 50001; }
extend google.protobuf.MessageOptions { repeated string labels = 50002; }
"#;
    let text = r#"syntax = "proto3"; import "meta.proto";
message M {
  option (meta.labels) = "a";
  option (meta.labels) = "b";
  string s = 1 [(meta.field_meta) = { doc: "the \"s\"" params { key: "m" value: "w" } params { key: "k" value: "v" } tags: [1, 2] }];
}
"#;
    let deps = [dependency("meta.proto", meta)];
    let schema = ProtobufSchema::parse(text, &deps).expect("custom options parse");
    let canonical = schema.canonical();
    assert!(
        canonical.contains("option (.meta.labels) = \"a\";"),
        "{canonical}"
    );
    assert!(
        canonical.contains("option (.meta.labels) = \"b\";"),
        "{canonical}"
    );
    assert!(
        canonical.contains(
            "string s = 1 [(.meta.field_meta) = { doc: \"the \\\"s\\\"\" \
             params { key: \"k\" value: \"v\" } params { key: \"m\" value: \"w\" } \
             tags: 1 tags: 2 }];"
        ),
        "{canonical}"
    );
    let again = ProtobufSchema::parse(&canonical, &deps).expect("canonical parses");
    assert_eq!(again.canonical(), canonical);
    let b64 = ProtobufSchema::parse(&schema.serialized(), &deps).expect("serialized parses");
    assert_eq!(b64.canonical(), canonical);
}
