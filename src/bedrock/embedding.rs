//! Embedding models through InvokeModel (not built yet).
