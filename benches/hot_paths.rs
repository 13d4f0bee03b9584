//! Micro-benchmarks of the code every request and every streamed chunk runs through:
//! decoding a request line, turning a Dify prompt (with images) into a Converse request,
//! and encoding one text chunk line as the chunk writer puts it on the wire. They reach
//! the real code through the hidden `internals` module. Run with `cargo bench --bench hot_paths`; what
//! they showed is in benches/notes.md. Not tests: these machines are noisy.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dify_bedrock::internals;
use serde_json::{Value, json};

/// A Claude request as an agent sends it: a system prompt, ten turns, two tools.
fn chat_request(content_images: usize, image_bytes: usize) -> Value {
    let mut messages =
        vec![json!({"role": "system", "content": "You are a careful assistant. ".repeat(20)})];
    for turn in 0..5 {
        messages.push(json!({"role": "user", "content": format!("Question {turn}: {}", "how does this work? ".repeat(10))}));
        messages.push(json!({"role": "assistant", "content": format!("Answer {turn}: {}", "it works like this. ".repeat(15))}));
    }
    let mut last = vec![json!({"type": "text", "data": "What do these pictures show?"})];
    for _ in 0..content_images {
        last.push(json!({"type": "image", "base64_data": png_base64(image_bytes), "mime_type": "image/png", "format": "png", "filename": "p.png"}));
    }
    messages.push(json!({"role": "user", "content": last}));
    json!({
        "user_id": "u", "type": "model", "action": "invoke_llm", "provider": "bedrock", "model_type": "llm",
        "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "credentials": {"auth_method": "Access_Secret_Key", "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_region": "us-east-1"},
        "model_parameters": {"max_tokens": 1024, "temperature": 0.3},
        "prompt_messages": messages,
        "tools": [
            {"name": "get_weather", "description": "The weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "search", "description": "Search the web", "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}}
        ],
        "stop": null, "stream": true
    })
}

/// Base64 of `len` bytes that start like a PNG (the plugin checks the signature).
fn png_base64(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len.saturating_sub(8)).map(|i| (i * 31 % 251) as u8));
    let mut out = String::with_capacity(len.div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
    }
    out
}

fn request_line(data: Value) -> Vec<u8> {
    json!({"session_id": "5f0c7c1e-3d1b-4a8e-9a57-1d2f3c4b5a69", "event": "request",
        "conversation_id": null, "message_id": null, "app_id": null, "endpoint_id": null,
        "context": {}, "data": data})
    .to_string()
    .into_bytes()
}

fn benches(c: &mut Criterion) {
    let small = request_line(chat_request(0, 0));
    let mut group = c.benchmark_group("decode_request_line");
    group.throughput(Throughput::Bytes(small.len() as u64));
    group.bench_function("agent turn, 11 messages, 2 tools", |b| {
        b.iter(|| internals::decode_request_line(black_box(&small)))
    });
    let large = request_line(chat_request(4, 256 * 1024));
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("with 4 images of 256 KiB", |b| {
        b.iter(|| internals::decode_request_line(black_box(&large)))
    });
    group.finish();

    let Ok(catalog) = internals::embedded_catalog() else {
        panic!("the embedded catalogue does not load");
    };
    let state = internals::app_state(catalog, 1, Duration::from_secs(5));
    let mut group = c.benchmark_group("prompt_to_converse");
    for (name, images) in [("text only", 0), ("with 4 images of 256 KiB", 4)] {
        let data = chat_request(images, 256 * 1024);
        group.bench_function(name, |b| {
            b.iter_batched(
                || data.clone(),
                |data| internals::converse_request_from_prompt(&state, data, None),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("encode_chunk_line");
    for (name, text) in [
        ("one token", " the"),
        ("a sentence with escapes", "He said \"yes\" —\nthen left.\t"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                internals::encode_text_chunk_line(
                    black_box("5f0c7c1e-3d1b-4a8e-9a57-1d2f3c4b5a69"),
                    black_box("anthropic.claude-sonnet-4-5-20250929-v1:0"),
                    black_box(17),
                    black_box(text),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
