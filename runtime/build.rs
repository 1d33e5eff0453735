//! Compiles the session protocol (`docs/protocol.proto`) into its prost messages and tonic service, with
//! protox (a pure-Rust protobuf compiler: no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../docs/protocol.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["../docs"])?;
    tonic_prost_build::configure()
        .bytes(".cachemir.session.v1.KeyChunk.data")
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
