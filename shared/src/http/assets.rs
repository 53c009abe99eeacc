//! The console's files, compiled into every binary that serves them from
//! one table: no third party at run time.

/// One embedded file of the console.
pub struct Asset {
    /// The name under `/console/` (the page itself is served at `/`).
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $type:literal),* $(,)?) => {
        /// Every file of `console/`, compiled in: no third party at run time.
        pub const ASSETS: &[Asset] = &[
            $(Asset {
                name: $name,
                content_type: $type,
                bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/", $name)),
            },)*
        ];
    };
}

assets! {
    "actions.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "audit.js" => "text/javascript; charset=utf-8",
    "capabilities.js" => "text/javascript; charset=utf-8",
    "create.js" => "text/javascript; charset=utf-8",
    "details.js" => "text/javascript; charset=utf-8",
    "dialogs.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "errors.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "format.js" => "text/javascript; charset=utf-8",
    "index.html" => "text/html; charset=utf-8",
    "keys.js" => "text/javascript; charset=utf-8",
    "limits.js" => "text/javascript; charset=utf-8",
    "links.js" => "text/javascript; charset=utf-8",
    "menu.js" => "text/javascript; charset=utf-8",
    "paged.js" => "text/javascript; charset=utf-8",
    "reference.js" => "text/javascript; charset=utf-8",
    "secret.js" => "text/javascript; charset=utf-8",
    "session.js" => "text/javascript; charset=utf-8",
    "signin.js" => "text/javascript; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "toast.js" => "text/javascript; charset=utf-8",
}

pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}
