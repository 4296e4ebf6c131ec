//! `/v1/pipelines`: sales pipelines and their stages, configured by admins.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::sales::opportunities::StageOutcome;
use crm_store::sales::pipelines::{
    self as store, PipelineChanges, PipelineFields, StageChanges, StageFields,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// A stage of a pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stage {
    /// Server-assigned id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Order within the pipeline, ascending.
    pub position: i64,
    /// Default probability of opportunities in this stage, in basis points.
    pub probability_bp: i64,
    /// Whether the stage is open, or closes the opportunity as won or lost.
    pub outcome: StageOutcome,
}

/// A sales pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pipeline {
    /// Server-assigned id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Opportunities without a pipeline go here.
    pub is_default: bool,
    /// Accepting a quote of an opportunity moves it to the won stage.
    pub won_on_quote_accept: bool,
    /// Stages by position.
    pub stages: Vec<Stage>,
    /// Incremented on every change, stages included; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived; null while in use.
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<store::Pipeline> for Pipeline {
    fn from(pipeline: store::Pipeline) -> Self {
        Pipeline {
            id: pipeline.id,
            name: pipeline.fields.name,
            is_default: pipeline.fields.is_default,
            won_on_quote_accept: pipeline.fields.won_on_quote_accept,
            stages: pipeline
                .stages
                .into_iter()
                .map(|s| Stage {
                    id: s.id,
                    name: s.fields.name,
                    position: s.fields.position,
                    probability_bp: s.fields.probability_bp,
                    outcome: s.fields.outcome,
                })
                .collect(),
            version: pipeline.version,
            created_at: utc(pipeline.created_at),
            updated_at: utc(pipeline.updated_at),
            archived_at: utc_opt(pipeline.archived_at),
        }
    }
}

/// A new stage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Contract review", "position": 5, "probability_bp": 8500}))]
pub struct StageCreate {
    /// Name.
    pub name: String,
    /// Order; defaults to after the others.
    pub position: Option<i64>,
    /// Default probability in basis points (0 to 10000).
    pub probability_bp: i64,
    /// Default `open`.
    pub outcome: Option<StageOutcome>,
}

/// A new pipeline with its stages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Enterprise", "won_on_quote_accept": true, "stages": [{"name": "Discovery", "probability_bp": 1000}, {"name": "Won", "probability_bp": 10000, "outcome": "won"}, {"name": "Lost", "probability_bp": 0, "outcome": "lost"}]}))]
pub struct PipelineCreate {
    /// Name.
    pub name: String,
    /// Make it the default pipeline; default false.
    pub is_default: Option<bool>,
    /// Default false.
    pub won_on_quote_accept: Option<bool>,
    /// At least one open stage.
    pub stages: Vec<StageCreate>,
}

/// Changes to a pipeline, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"is_default": true}))]
pub struct PipelineUpdate {
    /// Name; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub name: Option<Option<String>>,
    /// Make it the default; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub is_default: Option<Option<bool>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub won_on_quote_accept: Option<Option<bool>>,
}

/// Changes to a stage, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"probability_bp": 3000}))]
pub struct StageUpdate {
    /// Name; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub name: Option<Option<String>>,
    /// Order; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub position: Option<Option<i64>>,
    /// Default probability; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub probability_bp: Option<Option<i64>>,
    /// Outcome; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub outcome: Option<Option<StageOutcome>>,
}

impl PipelineCreate {
    /// Checks the pipeline and its stages, numbered in the order given unless placed.
    fn into_fields(self) -> Result<(PipelineFields, Vec<StageFields>), ApiError> {
        let mut c = Checker::default();
        let fields = PipelineFields {
            name: c.required("name", &self.name, SHORT),
            is_default: self.is_default.unwrap_or(false),
            won_on_quote_accept: self.won_on_quote_accept.unwrap_or(false),
        };
        let stages: Vec<StageFields> = self
            .stages
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let position = i64::try_from(i).unwrap_or(0) + 1;
                stage_fields(&mut c, &format!("stages[{i}]"), s, position)
            })
            .collect();
        c.finish()?;
        Ok((fields, stages))
    }
}

impl PipelineUpdate {
    fn into_changes(self) -> Result<PipelineChanges, ApiError> {
        let mut c = Checker::default();
        let changes = PipelineChanges {
            name: not_null(&mut c, "name", self.name).map(|v| c.required("name", &v, SHORT)),
            is_default: not_null(&mut c, "is_default", self.is_default),
            won_on_quote_accept: not_null(&mut c, "won_on_quote_accept", self.won_on_quote_accept),
        };
        c.finish()?;
        Ok(changes)
    }
}

impl StageUpdate {
    fn into_changes(self) -> Result<StageChanges, ApiError> {
        let mut c = Checker::default();
        let changes = StageChanges {
            name: not_null(&mut c, "name", self.name).map(|v| c.required("name", &v, SHORT)),
            position: not_null(&mut c, "position", self.position),
            probability_bp: not_null(&mut c, "probability_bp", self.probability_bp)
                .map(|v| probability(&mut c, "probability_bp", v)),
            outcome: not_null(&mut c, "outcome", self.outcome),
        };
        c.finish()?;
        Ok(changes)
    }
}

/// The new value of a patched field that cannot be null.
fn not_null<T>(c: &mut Checker, field: &str, patch: Option<Option<T>>) -> Option<T> {
    match patch {
        Some(Some(v)) => Some(v),
        Some(None) => {
            c.not_null(field);
            None
        }
        None => None,
    }
}

fn probability(c: &mut Checker, field: &str, bp: i64) -> i64 {
    c.violations
        .check(crm_domain::platform::money::check_discount_bp(field, bp))
        .unwrap_or(0)
}

fn stage_fields(
    c: &mut Checker,
    field: &str,
    stage: StageCreate,
    default_position: i64,
) -> StageFields {
    StageFields {
        name: c.required(&format!("{field}.name"), &stage.name, SHORT),
        position: stage.position.unwrap_or(default_position),
        probability_bp: probability(c, &format!("{field}.probability_bp"), stage.probability_bp),
        outcome: stage.outcome.unwrap_or(StageOutcome::Open),
    }
}

/// Paging for the pipeline list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PipelineListQuery {
    /// Include archived pipelines.
    pub include_archived: Option<bool>,
}

#[utoipa::path(tag = "pipelines", operation_id = "listPipelines", summary = "List pipelines",
    params(PipelineListQuery, PageQuery),
    responses((status = 200, description = "A page of pipelines, oldest first", body = ListResponse<Pipeline>)))]
#[get("/pipelines")]
pub async fn list_pipelines(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<PipelineListQuery>,
) -> Result<web::Json<ListResponse<Pipeline>>, ApiError> {
    principal.authorize(Resource::Pipelines, Access::Read)?;
    let include_archived = query.include_archived.unwrap_or(false);
    read_oldest_first(
        &state,
        store::list,
        include_archived,
        paging,
        Pipeline::from,
    )
    .await
}

#[utoipa::path(tag = "pipelines", operation_id = "createPipeline", summary = "Create a pipeline",
    request_body = PipelineCreate,
    responses((status = 201, description = "Created", body = Pipeline, headers(("Location" = String, description = "URL of the new pipeline"), ("ETag" = String, description = "Its version")))))]
#[post("/pipelines")]
pub async fn create_pipeline(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PipelineCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Pipelines, Access::Write)?;
    let (fields, stages) = body.into_fields()?;
    let pipeline = state
        .db
        .write(move |conn| store::create(conn, fields, stages))
        .await?;
    Ok(created(
        format!("/v1/pipelines/{}", pipeline.id),
        pipeline.version,
        &Pipeline::from(pipeline),
    ))
}

#[utoipa::path(tag = "pipelines", operation_id = "getPipeline", summary = "Get a pipeline",
    params(("id" = String, Path, description = "Pipeline id")),
    responses((status = 200, description = "The pipeline with its stages", body = Pipeline, headers(("ETag" = String, description = "Its version")))))]
#[get("/pipelines/{id}")]
pub async fn get_pipeline(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::Pipelines,
            store::get,
            |r| r.version,
            Pipeline::from,
        )
        .await
}

#[utoipa::path(tag = "pipelines", operation_id = "updatePipeline", summary = "Update a pipeline",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body(content = PipelineUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated pipeline", body = Pipeline, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/pipelines/{id}")]
pub async fn update_pipeline(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<PipelineUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Pipelines, Access::Write)?;
    let changes = body.into_changes()?;
    let pipeline = state
        .db
        .write(move |conn| store::update(conn, &id, if_match.0, changes))
        .await?;
    Ok(versioned(pipeline.version, &Pipeline::from(pipeline)))
}

#[utoipa::path(tag = "pipelines", operation_id = "deletePipeline", summary = "Archive a pipeline",
    description = "Archives the pipeline; its opportunities keep it. The default pipeline cannot be archived (`409`).",
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 409, description = "The default pipeline cannot be archived", body = Problem, content_type = "application/problem+json")))]
#[delete("/pipelines/{id}")]
pub async fn delete_pipeline(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Pipelines, store::archive)
        .await
}

#[utoipa::path(tag = "pipelines", operation_id = "createStage", summary = "Add a stage to a pipeline",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body = StageCreate,
    responses((status = 201, description = "The pipeline with the new stage", body = Pipeline, headers(("Location" = String, description = "URL of the pipeline"), ("ETag" = String, description = "Its new version")))))]
#[post("/pipelines/{id}/stages")]
pub async fn create_stage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<StageCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Pipelines, Access::Write)?;
    let mut c = Checker::default();
    let stage = stage_fields(&mut c, "stage", body, i64::MAX / 2);
    c.finish()?;
    let pipeline = state
        .db
        .write(move |conn| store::add_stage(conn, &id, if_match.0, stage))
        .await?;
    Ok(created(
        format!("/v1/pipelines/{}", pipeline.id),
        pipeline.version,
        &Pipeline::from(pipeline),
    ))
}

#[utoipa::path(tag = "pipelines", operation_id = "updateStage", summary = "Update a stage",
    params(("id" = String, Path, description = "Pipeline id"), ("stage_id" = String, Path, description = "Stage id")),
    request_body(content = StageUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The pipeline", body = Pipeline, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/pipelines/{id}/stages/{stage_id}")]
pub async fn update_stage(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<StageUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Pipelines, Access::Write)?;
    let (id, stage_id) = path.into_inner();
    let changes = body.into_changes()?;
    let pipeline = state
        .db
        .write(move |conn| store::update_stage(conn, &id, &stage_id, if_match.0, changes))
        .await?;
    Ok(versioned(pipeline.version, &Pipeline::from(pipeline)))
}

/// The routes under `/pipelines`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_pipelines)
        .service(create_pipeline)
        .service(get_pipeline)
        .service(update_pipeline)
        .service(delete_pipeline)
        .service(create_stage)
        .service(update_stage);
}
