//! Structured-output schemas toward Gemini's OpenAPI subset: see
//! [`batchkit_providers::schema`].

pub(crate) use batchkit_providers::schema::openapi_to_json_schema;
