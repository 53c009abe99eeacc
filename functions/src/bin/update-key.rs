//! `UpdateKey` as a Lambda function; the handler is `keygate::http::handle`.

fn main() -> Result<(), keygate::runtime::lambda::Error> {
    keygate::runtime::lambda::run_operation(keygate::domain::routes::Operation::UpdateKey)
}
