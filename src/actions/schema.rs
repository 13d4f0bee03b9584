//! `get_ai_model_schemas`: a predefined model's declaration, or the schema of a
//! customizable model built from its form (`model`), or `null` for a model the plugin
//! does not know.

use serde::Serialize;

use super::AppState;
use super::model::resolve_for_call;
use super::requests::ModelBase;
use crate::declaration::ModelDecl;
use crate::error::PluginError;
use crate::session::SessionSink;

#[derive(Serialize)]
struct Answer<'a> {
    model_schema: Option<&'a ModelDecl>,
}

pub async fn get_ai_model_schemas(
    state: &AppState,
    req: ModelBase,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let Ok(model_type) = req.model_type else {
        return sink.stream(&Answer { model_schema: None }).await;
    };
    if req.credentials.custom.is_some() {
        let schema = resolve_for_call(state, &req, model_type).await?;
        return sink
            .stream(&Answer {
                model_schema: Some(&schema),
            })
            .await;
    }
    sink.stream(&Answer {
        model_schema: state.catalog.model(model_type, &req.model),
    })
    .await
}
