// SPDX-License-Identifier: MIT
// With the `link` feature: where to find libmemlimit.so. MEMLIMIT_LIB_DIR, else the
// repository's build/ (when this crate sits in bindings/rust of a built checkout),
// else the linker's default path (an installed library). The rpath is added to this
// package's own tests and examples only.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=MEMLIMIT_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_LINK").is_none() {
        return;
    }
    let dir = match env::var_os("MEMLIMIT_LIB_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            let repo =
                PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../../build");
            if repo.join("libmemlimit.so").exists() {
                Some(repo.canonicalize().unwrap_or(repo))
            } else {
                None
            }
        }
    };
    if let Some(d) = dir {
        println!("cargo:rustc-link-search=native={}", d.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
    }
}
