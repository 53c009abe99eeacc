//! `ListAuditEvents` as a Lambda function; the handler is `keygate::api::handle`.

fn main() -> Result<(), keygate::lambda::Error> {
    keygate::lambda::run_operation(keygate::routes::Operation::ListAuditEvents)
}
