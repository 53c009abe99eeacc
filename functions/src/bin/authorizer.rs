//! The API Gateway Lambda REQUEST authorizer; the logic is `keygate::authorizer`.

fn main() -> Result<(), keygate::runtime::lambda::Error> {
    keygate::runtime::lambda::run_authorizer()
}
