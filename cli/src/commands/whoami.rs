//! `keygate whoami`: the calling key's own record.

use anyhow::Context as _;

use crate::api::Api;
use crate::args::ApiArgs;
use crate::client::Request;
use crate::commands::keys::render_record;
use crate::library::{KeyId, Operation};
use crate::output::{print_json, terminal_width};

pub fn run(args: &ApiArgs) -> anyhow::Result<()> {
    let api = Api::connect(args)?;
    let id = KeyId::in_key(api.client.key())
        .context("the API key is not a keygate key (expected <prefix>_ and 65 letters or digits)")?
        .to_string();
    let record = api.call(Request::new(Operation::GetKey).id(&id))?;
    if api.json {
        print_json(&record);
    } else {
        print!("{}", render_record(&record, terminal_width()));
    }
    Ok(())
}
