//! The Fly platform's flags, flattened into `serve`.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct FlyArgs {
    /// Fly API token (org-scoped: it creates and deletes apps). Selects the fly driver.
    #[arg(long, env = "FLY_API_TOKEN", hide_env_values = true)]
    pub fly_api_token: Option<String>,

    /// Base URL of Fly's Machines API.
    #[arg(long, env = "FLY_API_URL", default_value = "https://api.machines.dev")]
    pub fly_api_url: String,

    /// This provisioner's deployment (e.g. production, staging): required with
    /// the fly driver. Its previews carry it, and it never touches another's.
    #[arg(long, env = "PROVISIONER_DEPLOYMENT")]
    pub deployment: Option<String>,

    /// Prefix of the preview apps' names (`<prefix><appId>`). Fly app names
    /// are global: pick your own (e.g. acme-preview-) if a name is taken.
    #[arg(long, env = "FLY_APP_PREFIX", default_value = "preview-")]
    pub fly_app_prefix: String,

    /// Where to reach Fly's proxy when checking that a new or woken preview's
    /// URL answers (requests carry `Host: <app>.fly.dev`); by default the
    /// public URL itself. For networks that reach Fly another way, and tests.
    #[arg(long, env = "FLY_PROXY_URL")]
    pub fly_proxy_url: Option<String>,

    /// Fly organization that owns the preview apps.
    #[arg(long, env = "FLY_ORG_SLUG", default_value = "personal")]
    pub fly_org_slug: String,

    /// Fly region the preview machines run in.
    #[arg(long, env = "FLY_REGION", default_value = "iad")]
    pub fly_region: String,

    /// Runtime image each preview machine runs (sync-daemon supervising the dev server).
    #[arg(
        long,
        env = "PREVIEW_IMAGE",
        default_value = "registry.fly.io/preview-runtime:latest"
    )]
    pub preview_image: String,

    /// Preview machine CPU count (shared CPUs).
    #[arg(long, env = "PREVIEW_CPUS", default_value_t = 1)]
    pub preview_cpus: u32,

    /// Preview machine memory in MB; at most 2048 for suspend to work.
    #[arg(long, env = "PREVIEW_MEMORY_MB", default_value_t = 1024)]
    pub preview_memory_mb: u32,

    /// Port the dev server listens on inside a preview.
    #[arg(long, env = "PREVIEW_PORT", default_value_t = 3000)]
    pub preview_port: u16,
}
