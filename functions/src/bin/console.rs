//! The public routes as a Lambda function: the console page, its assets and
//! the OpenAPI document; the handler is `keygate::http::public::handle`.

fn main() -> Result<(), keygate::runtime::lambda::Error> {
    keygate::runtime::lambda::run_console()
}
