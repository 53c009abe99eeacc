//! The API Gateway Lambda REQUEST authorizer; the logic is `keygate::authorizer`.

#[tokio::main]
async fn main() -> Result<(), keygate::lambda::Error> {
    keygate::lambda::run_authorizer().await
}
