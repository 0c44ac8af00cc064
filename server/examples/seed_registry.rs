//! Seeds a registry for the index benchmark: REPOS repositories `ns/imgN`,
//! each with TAGS tags of one tiny image, pushed with oci-client (blobs and
//! the manifest once per repository, then the manifest under every tag).
//!
//!   cargo run --release --example seed_registry -- HOST REPOS TAGS

use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, repos, tags] = args.as_slice() else {
        eprintln!("usage: seed_registry HOST REPOS TAGS");
        std::process::exit(2);
    };
    let (repos, tags): (usize, usize) = (repos.parse().expect("REPOS"), tags.parse().expect("TAGS"));
    let client = oci_client::Client::new(ClientConfig { protocol: ClientProtocol::Http, ..Default::default() });
    let auth = RegistryAuth::Anonymous;
    let started = std::time::Instant::now();
    let results: Vec<Result<(), String>> = futures::stream::iter(0..repos)
        .map(|r| {
            let (client, auth, host) = (&client, &auth, host.clone());
            async move {
                let base: oci_client::Reference =
                    format!("{host}/ns/img{r}:1.0.0").parse().map_err(|e| format!("{e}"))?;
                let layer = ImageLayer::oci_v1(format!("layer {r}").into_bytes(), None);
                let config = Config::oci_v1(br#"{"architecture":"amd64","os":"linux"}"#.to_vec(), None);
                client.push(&base, &[layer], config, auth, None).await.map_err(|e| e.to_string())?;
                let accept = vec![oci_client::manifest::OCI_IMAGE_MEDIA_TYPE];
                let (manifest, _) = client.pull_manifest_raw(&base, auth, &accept).await.map_err(|e| e.to_string())?;
                for t in 1..tags {
                    let reference: oci_client::Reference =
                        format!("{host}/ns/img{r}:1.{}.{}", t / 10, t % 10).parse().map_err(|e| format!("{e}"))?;
                    client
                        .push_manifest_raw(
                            &reference,
                            manifest.clone(),
                            oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.parse().expect("media type"),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(e) = failed.first() {
        eprintln!("{} repositories failed, first: {e}", failed.len());
        std::process::exit(1);
    }
    eprintln!("seeded {repos} x {tags} in {:.1} s", started.elapsed().as_secs_f64());
}
