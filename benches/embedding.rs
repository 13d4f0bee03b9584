//! Embedding throughput benchmark (not built yet).

fn main() {}
