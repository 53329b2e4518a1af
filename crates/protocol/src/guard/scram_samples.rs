//! Populated DescribeUserScramCredentials (50) and AlterUserScramCredentials (51) requests and
//! responses, for `samples.rs` and `response_samples.rs` (tests and the `test-encoders` feature
//! only). Both APIs are flexible from v0.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::samples::{s, tags};

pub(super) fn describe_request(v: i16) -> DescribeUserScramCredentialsRequest {
    use describe_user_scram_credentials_request::*;
    let user = |name| {
        UserName::default()
            .with_name(s(name))
            .with_unknown_tagged_fields(tags(v, 0))
    };
    DescribeUserScramCredentialsRequest::default()
        .with_users(Some(vec![user("alice"), user("bob")]))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn alter_request(v: i16) -> AlterUserScramCredentialsRequest {
    use alter_user_scram_credentials_request::*;
    let deletion = ScramCredentialDeletion::default()
        .with_name(s("bob"))
        .with_mechanism(2)
        .with_unknown_tagged_fields(tags(v, 0));
    let upsertion = ScramCredentialUpsertion::default()
        .with_name(s("alice"))
        .with_mechanism(1)
        .with_iterations(8192)
        .with_salt(Bytes::from_static(b"salt bytes"))
        .with_salted_password(Bytes::from_static(&[7; 32]))
        .with_unknown_tagged_fields(tags(v, 0));
    AlterUserScramCredentialsRequest::default()
        .with_deletions(vec![deletion.clone(), deletion])
        .with_upsertions(vec![upsertion.clone(), upsertion])
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn describe_response(v: i16) -> DescribeUserScramCredentialsResponse {
    use describe_user_scram_credentials_response::*;
    let info = CredentialInfo::default()
        .with_mechanism(1)
        .with_iterations(4096)
        .with_unknown_tagged_fields(tags(v, 0));
    let result = DescribeUserScramCredentialsResult::default()
        .with_user(s("alice"))
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_credential_infos(vec![info.clone(), info])
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeUserScramCredentialsResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_results(vec![result.clone(), result])
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn alter_response(v: i16) -> AlterUserScramCredentialsResponse {
    use alter_user_scram_credentials_response::*;
    let result = AlterUserScramCredentialsResult::default()
        .with_user(s("alice"))
        .with_error_code(91)
        .with_error_message(Some(s("not found")))
        .with_unknown_tagged_fields(tags(v, 0));
    AlterUserScramCredentialsResponse::default()
        .with_throttle_time_ms(1)
        .with_results(vec![result.clone(), result])
        .with_unknown_tagged_fields(tags(v, 0))
}
