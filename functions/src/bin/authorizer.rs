//! The API Gateway Lambda REQUEST authorizer; the logic is `keygate::authorizer`.

fn main() -> Result<(), keygate::lambda::Error> {
    keygate::lambda::run_authorizer()
}
