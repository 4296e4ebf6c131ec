//! Sales pipelines and their stages.

use chrono::NaiveDateTime;
use crm_domain::sales::opportunities::StageOutcome;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::{lock_key, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{pipeline_stages, pipelines};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pipelines)]
struct PipelineRow {
    id: String,
    name: String,
    is_default: bool,
    won_on_quote_accept: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pipeline_stages)]
struct StageRow {
    id: String,
    pipeline_id: String,
    name: String,
    position: i64,
    probability_bp: i64,
    outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFields {
    pub name: String,
    pub position: i64,
    pub probability_bp: i64,
    pub outcome: StageOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub pipeline_id: String,
    pub fields: StageFields,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFields {
    pub name: String,
    pub is_default: bool,
    /// Accepting a quote of one of its opportunities moves the opportunity to the won stage.
    pub won_on_quote_accept: bool,
}

/// What an edit of a pipeline changes; `None` leaves a field as it is.
#[derive(Debug)]
pub struct PipelineChanges {
    pub name: Option<String>,
    pub is_default: Option<bool>,
    pub won_on_quote_accept: Option<bool>,
}

impl PipelineChanges {
    fn apply(self, f: &mut PipelineFields) {
        if let Some(v) = self.name {
            f.name = v;
        }
        if let Some(v) = self.is_default {
            f.is_default = v;
        }
        if let Some(v) = self.won_on_quote_accept {
            f.won_on_quote_accept = v;
        }
    }
}

/// What an edit of a stage changes; `None` leaves a field as it is.
#[derive(Debug)]
pub struct StageChanges {
    pub name: Option<String>,
    pub position: Option<i64>,
    pub probability_bp: Option<i64>,
    pub outcome: Option<StageOutcome>,
}

impl StageChanges {
    fn apply(self, f: &mut StageFields) {
        if let Some(v) = self.name {
            f.name = v;
        }
        if let Some(v) = self.position {
            f.position = v;
        }
        if let Some(v) = self.probability_bp {
            f.probability_bp = v;
        }
        if let Some(v) = self.outcome {
            f.outcome = v;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: String,
    pub fields: PipelineFields,
    /// By position.
    pub stages: Vec<Stage>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

impl Pipeline {
    /// Where new opportunities start: the first open stage.
    pub fn first_open_stage(&self) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.fields.outcome == StageOutcome::Open)
    }

    pub fn won_stage(&self) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.fields.outcome == StageOutcome::Won)
    }
}

fn stage_from(row: StageRow) -> Result<Stage, StoreError> {
    Ok(Stage {
        id: row.id,
        pipeline_id: row.pipeline_id,
        fields: StageFields {
            name: row.name,
            position: row.position,
            probability_bp: row.probability_bp,
            outcome: stored("pipeline_stages", "outcome", &row.outcome)?,
        },
    })
}

fn assemble(conn: &mut DbConnection, row: PipelineRow) -> Result<Pipeline, StoreError> {
    let stages: Vec<StageRow> = pipeline_stages::table
        .filter(pipeline_stages::pipeline_id.eq(&row.id))
        .order((pipeline_stages::position.asc(), pipeline_stages::id.asc()))
        .select(StageRow::as_select())
        .load(conn)?;
    Ok(Pipeline {
        stages: stages
            .into_iter()
            .map(stage_from)
            .collect::<Result<_, _>>()?,
        fields: PipelineFields {
            name: row.name,
            is_default: row.is_default,
            won_on_quote_accept: row.won_on_quote_accept,
        },
        id: row.id,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        archived_at: row.archived_at,
    })
}

fn insert_stage(
    conn: &mut DbConnection,
    pipeline_id: &str,
    stage: &StageFields,
) -> Result<(), StoreError> {
    let at = now();
    diesel::insert_into(pipeline_stages::table)
        .values((
            pipeline_stages::id.eq(new_id()),
            pipeline_stages::pipeline_id.eq(pipeline_id),
            pipeline_stages::name.eq(&stage.name),
            pipeline_stages::position.eq(stage.position),
            pipeline_stages::probability_bp.eq(stage.probability_bp),
            pipeline_stages::outcome.eq(stage.outcome.as_str()),
            pipeline_stages::created_at.eq(at),
            pipeline_stages::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Taken by every writer of pipelines before anything else: a pipeline made default clears the
/// flag on the others, and two doing so at once would each miss the other.
const DEFAULT_LOCK: &str = "default-pipeline";

/// Makes `id` the only default. Callers hold [`DEFAULT_LOCK`] from before they write, so that
/// two pipelines made default at once end with one.
fn clear_other_defaults(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(
        pipelines::table
            .filter(pipelines::id.ne(id))
            .filter(pipelines::is_default.eq(true)),
    )
    .set(pipelines::is_default.eq(false))
    .execute(conn)?;
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    fields: PipelineFields,
    stages: Vec<StageFields>,
) -> Result<Pipeline, StoreError> {
    if !stages.iter().any(|s| s.outcome == StageOutcome::Open) {
        return Err(Violation::new("stages", "a pipeline needs at least one open stage").into());
    }
    lock_key(conn, DEFAULT_LOCK)?;
    let id = new_id();
    let at = now();
    diesel::insert_into(pipelines::table)
        .values((
            pipelines::id.eq(&id),
            pipelines::name.eq(&fields.name),
            pipelines::is_default.eq(fields.is_default),
            pipelines::won_on_quote_accept.eq(fields.won_on_quote_accept),
            pipelines::version.eq(1_i64),
            pipelines::created_at.eq(at),
            pipelines::updated_at.eq(at),
        ))
        .execute(conn)?;
    if fields.is_default {
        clear_other_defaults(conn, &id)?;
    }
    for stage in &stages {
        insert_stage(conn, &id, stage)?;
    }
    get(conn, &id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Pipeline, StoreError> {
    let row: PipelineRow = pipelines::table
        .find(id)
        .select(PipelineRow::as_select())
        .first(conn)?;
    assemble(conn, row)
}

/// The default pipeline, used when an opportunity names none.
pub fn default_pipeline(conn: &mut DbConnection) -> Result<Pipeline, StoreError> {
    let row: Option<PipelineRow> = pipelines::table
        .filter(pipelines::is_default.eq(true))
        .filter(pipelines::archived_at.is_null())
        .select(PipelineRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => assemble(conn, row),
        None => Err(Violation::new("pipeline_id", "there is no default pipeline; name one").into()),
    }
}

pub fn stage(conn: &mut DbConnection, stage_id: &str) -> Result<Stage, StoreError> {
    let row: StageRow = pipeline_stages::table
        .find(stage_id)
        .select(StageRow::as_select())
        .first(conn)?;
    stage_from(row)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    changes: PipelineChanges,
) -> Result<Pipeline, StoreError> {
    lock_key(conn, DEFAULT_LOCK)?;
    let pipeline = records::checkout(conn, Record::Pipeline, id, expected_version, get, |r| {
        r.version
    })?;
    let mut fields = pipeline.fields.clone();
    changes.apply(&mut fields);
    diesel::update(
        pipelines::table
            .filter(pipelines::id.eq(id))
            .filter(pipelines::version.eq(pipeline.version)),
    )
    .set((
        pipelines::name.eq(&fields.name),
        pipelines::is_default.eq(fields.is_default),
        pipelines::won_on_quote_accept.eq(fields.won_on_quote_accept),
        pipelines::version.eq(pipeline.version + 1),
        pipelines::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if fields.is_default {
        clear_other_defaults(conn, id)?;
    }
    get(conn, id)
}

fn bump(conn: &mut DbConnection, pipeline: &Pipeline) -> Result<(), StoreError> {
    diesel::update(pipelines::table.filter(pipelines::id.eq(&pipeline.id)))
        .set((
            pipelines::version.eq(pipeline.version + 1),
            pipelines::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn add_stage(
    conn: &mut DbConnection,
    pipeline_id: &str,
    expected_version: Option<i64>,
    stage: StageFields,
) -> Result<Pipeline, StoreError> {
    let pipeline = records::checkout(
        conn,
        Record::Pipeline,
        pipeline_id,
        expected_version,
        get,
        |r| r.version,
    )?;
    insert_stage(conn, pipeline_id, &stage)?;
    bump(conn, &pipeline)?;
    get(conn, pipeline_id)
}

pub fn update_stage(
    conn: &mut DbConnection,
    pipeline_id: &str,
    stage_id: &str,
    expected_version: Option<i64>,
    changes: StageChanges,
) -> Result<Pipeline, StoreError> {
    let pipeline = records::checkout(
        conn,
        Record::Pipeline,
        pipeline_id,
        expected_version,
        get,
        |r| r.version,
    )?;
    let mut stage = pipeline
        .stages
        .iter()
        .find(|s| s.id == stage_id)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    changes.apply(&mut stage.fields);
    let open_left = pipeline.stages.iter().any(|s| {
        s.fields.outcome == StageOutcome::Open
            && (s.id != stage_id || stage.fields.outcome == StageOutcome::Open)
    });
    if !open_left {
        return Err(Violation::new("outcome", "a pipeline needs at least one open stage").into());
    }
    diesel::update(pipeline_stages::table.find(stage_id))
        .set((
            pipeline_stages::name.eq(&stage.fields.name),
            pipeline_stages::position.eq(stage.fields.position),
            pipeline_stages::probability_bp.eq(stage.fields.probability_bp),
            pipeline_stages::outcome.eq(stage.fields.outcome.as_str()),
            pipeline_stages::updated_at.eq(now()),
        ))
        .execute(conn)?;
    bump(conn, &pipeline)?;
    get(conn, pipeline_id)
}

pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let pipeline = records::checkout(conn, Record::Pipeline, id, expected_version, get, |r| {
        r.version
    })?;
    if pipeline.fields.is_default {
        return Err(StoreError::Conflict {
            message: "the default pipeline cannot be archived; make another one the default first"
                .into(),
            existing_id: None,
        });
    }
    if pipeline.archived_at.is_none() {
        records::archive(conn, Record::Pipeline, id, pipeline.version)?;
    }
    Ok(())
}

pub fn list(
    conn: &mut DbConnection,
    include_archived: &bool,
    page: &PageRequest<()>,
) -> Result<Page<Pipeline>, StoreError> {
    let mut query = pipelines::table
        .select(PipelineRow::as_select())
        .into_boxed();
    if !*include_archived {
        query = query.filter(pipelines::archived_at.is_null());
    }
    let page = page_by_time!(conn, page, query, pipelines::created_at, PipelineRow);
    page.try_map(|row| assemble(conn, row))
}
