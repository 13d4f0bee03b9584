//! Rerank models through InvokeModel (not built yet).
