//! The public routes as a Lambda function: the console page, its assets and
//! the OpenAPI document; the handler is `keygate::console::handle`.

fn main() -> Result<(), keygate::lambda::Error> {
    keygate::lambda::run_console()
}
