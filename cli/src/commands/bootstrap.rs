//! `keygate bootstrap`: a full-access key minted straight into the store.

use crate::args::BootstrapArgs;
use crate::library::{App, OrgId};
use crate::store;

pub async fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    let org = OrgId::new(&args.org).map_err(anyhow::Error::msg)?;
    let settings = store::settings()?;
    let keys = settings.key_format().await?;
    let store = store::open(args.store, &settings).await?;
    let app = App::new(store, keys);
    let (_, key) = app.mint_root_key(&org, &args.name).await?;
    println!("{}", key.expose());
    Ok(())
}
