//! `/v1/schema/{object}`: every field of contacts and companies, and the custom fields admins
//! add to them.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::custom_fields::{
    CustomField, CustomFieldType, CustomObject, FieldOption,
};
use crm_domain::platform::filter::Kind;
use crm_domain::{Violation, Violations};
use crm_store::parties::fields as store;
use crm_store::platform::custom_fields::Definition;
use crm_store::platform::query::Table;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, IfMatch};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// A field as lists filter and sort on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldDescription {
    /// As filters, sorts and `fields=` name it: `email`, `billing_address.country`,
    /// `custom.segment`.
    pub path: String,
    pub label: String,
    /// `text`, `number`, `decimal`, `boolean`, `date`, `datetime`, `enum`, `multi_enum`, `url`,
    /// `email`, `money`, or `id`.
    #[serde(rename = "type")]
    pub field_type: String,
    /// The values an enum takes.
    pub options: Vec<FieldOption>,
    pub required: bool,
    pub filterable: bool,
    pub sortable: bool,
    /// Whether an index serves equality on it.
    pub indexed: bool,
    /// The operators its filters take.
    pub operators: Vec<String>,
    /// Whether an admin added it.
    pub custom: bool,
}

/// A relation `expand=` can embed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationDescription {
    /// As `expand=` names it.
    pub name: String,
    /// The id field that points at it.
    pub via: String,
    /// What it points at.
    pub object: String,
}

/// Every field of an object, built-in and custom, and its relations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectSchema {
    pub fields: Vec<FieldDescription>,
    pub relations: Vec<RelationDescription>,
}

/// A custom field's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldDefinition {
    /// `^[a-z][a-z0-9_]{0,62}$`; immutable; records carry it under `custom_fields`.
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    /// Decimals only: fractional digits.
    pub scale: Option<u32>,
    /// Enums only.
    pub options: Vec<FieldOption>,
    pub required: bool,
    pub unique: bool,
    /// Given to new records that leave the field out.
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub indexed: bool,
    /// Whether customers see it in the portal.
    pub portal_visible: bool,
    /// An archived field shows no values and takes no writes.
    pub archived: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition> for CustomFieldDefinition {
    fn from(definition: Definition) -> Self {
        let field = definition.field;
        CustomFieldDefinition {
            default: field.default.as_ref().map(|d| field.show(d)),
            key: field.key,
            label: field.label,
            field_type: field.field_type,
            scale: field.scale,
            options: field.options,
            required: field.required,
            unique: field.unique,
            indexed: field.indexed,
            portal_visible: field.portal_visible,
            archived: field.archived,
            version: definition.version,
            created_at: utc(definition.created_at),
            updated_at: utc(definition.updated_at),
        }
    }
}

/// A new custom field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "segment", "label": "Segment", "type": "enum", "options": [{"value": "retail", "label": "Retail"}, {"value": "food", "label": "Food service"}], "indexed": true}))]
pub struct CustomFieldCreate {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    /// Decimals: fractional digits, 0 to 9.
    pub scale: Option<u32>,
    /// Enums: the values and their labels.
    pub options: Option<Vec<FieldOption>>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    /// A value of the field's type.
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub indexed: Option<bool>,
    pub portal_visible: Option<bool>,
}

/// Changes to a custom field, as a JSON Merge Patch. A new `type`, `scale` or `options`
/// converts every stored value, or is a `409` naming a record whose value cannot convert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldUpdate {
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub label: Option<Option<String>>,
    #[serde(default, rename = "type", deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub field_type: Option<Option<CustomFieldType>>,
    #[serde(default, deserialize_with = "patch")]
    pub scale: Option<Option<u32>>,
    #[serde(default, deserialize_with = "patch")]
    pub options: Option<Option<Vec<FieldOption>>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub required: Option<Option<bool>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub unique: Option<Option<bool>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<Object>)]
    pub default: Option<Option<Value>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub indexed: Option<Option<bool>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub portal_visible: Option<Option<bool>>,
}

impl CustomFieldUpdate {
    /// Applies the patch; a default is read with the changed definition.
    fn apply(self, field: &mut CustomField) -> Result<(), Violations> {
        let mut c = Checker::default();
        let flag = |c: &mut Checker, name: &str, value: Option<Option<bool>>, target: &mut bool| {
            match value {
                Some(Some(v)) => *target = v,
                Some(None) => c.not_null(name),
                None => {}
            }
        };
        match self.label {
            Some(Some(label)) => field.label = c.required("label", &label, SHORT),
            Some(None) => c.not_null("label"),
            None => {}
        }
        match self.field_type {
            Some(Some(t)) => field.field_type = t,
            Some(None) => c.not_null("type"),
            None => {}
        }
        if let Some(scale) = self.scale {
            field.scale = scale;
        }
        if let Some(options) = self.options {
            field.options = options.unwrap_or_default();
        }
        flag(&mut c, "required", self.required, &mut field.required);
        flag(&mut c, "unique", self.unique, &mut field.unique);
        flag(&mut c, "indexed", self.indexed, &mut field.indexed);
        flag(
            &mut c,
            "portal_visible",
            self.portal_visible,
            &mut field.portal_visible,
        );
        match self.default {
            Some(Some(value)) => match field.read(&value) {
                Ok(canonical) => field.default = Some(canonical),
                Err(why) => c.violations.push(Violation::new("default", why)),
            },
            Some(None) => field.default = None,
            None => {}
        }
        c.finish()
    }
}

/// The object named in the path (others have no fields to describe).
fn object_of(name: &str) -> Result<CustomObject, ApiError> {
    name.parse::<CustomObject>().map_err(|_| ApiError::NotFound)
}

fn describe(table: &Table, definitions: Vec<Definition>) -> ObjectSchema {
    let operators = |kind: &Kind| {
        kind.operators()
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let mut fields: Vec<FieldDescription> = table
        .columns
        .iter()
        .map(|column| {
            let spec = table.field(column.path, &[]);
            let kind = spec.as_ref().map_or(Kind::Text, |s| s.kind.clone());
            let options = match &kind {
                Kind::Choice(values) => values
                    .iter()
                    .map(|v| FieldOption {
                        value: v.clone(),
                        label: v.clone(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let field_type = if column.path == "id" || column.path.ends_with("_id") {
                "id"
            } else if column.path == "tags" {
                "multi_enum"
            } else {
                kind.name()
            };
            FieldDescription {
                path: column.path.to_owned(),
                label: column.path.replace(['_', '.'], " "),
                field_type: field_type.to_owned(),
                options,
                required: column.required,
                filterable: true,
                sortable: column.sortable,
                indexed: column.indexed,
                operators: operators(&kind),
                custom: false,
            }
        })
        .collect();
    let live: Vec<CustomField> = definitions
        .into_iter()
        .map(|d| d.field)
        .filter(|f| !f.archived)
        .collect();
    for field in &live {
        let money = field.field_type == CustomFieldType::Money;
        let path = if money {
            format!("custom.{}.amount_minor", field.key)
        } else {
            format!("custom.{}", field.key)
        };
        let spec = table.field(&path, &live);
        fields.push(FieldDescription {
            path,
            label: field.label.clone(),
            field_type: field.field_type.as_str().to_owned(),
            options: field.options.clone(),
            required: field.required,
            filterable: spec.is_some(),
            sortable: spec.as_ref().is_some_and(|s| s.sortable),
            indexed: field.indexed || field.unique,
            operators: spec.map(|s| operators(&s.kind)).unwrap_or_default(),
            custom: true,
        });
    }
    let relations = table
        .relations
        .iter()
        .map(|(name, via, object)| RelationDescription {
            name: (*name).to_owned(),
            via: (*via).to_owned(),
            object: (*object).to_owned(),
        })
        .collect();
    ObjectSchema { fields, relations }
}

#[utoipa::path(
    tag = "schema",
    operation_id = "getObjectSchema",
    summary = "Describe an object's fields",
    description = "Every field of an object, built-in and custom, with the operators its filters take, and the relations `expand=` embeds.",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`")),
    responses((status = 200, description = "The fields and relations", body = ObjectSchema))
)]
#[get("/schema/{object}")]
pub async fn get_object_schema(
    state: web::Data<AppState>,
    principal: Principal,
    object: web::Path<String>,
) -> Result<web::Json<ObjectSchema>, ApiError> {
    let object = object_of(&object)?;
    principal.authorize(object.resource(), Access::Read)?;
    let (table, definitions) = state
        .db
        .read(move |conn| store::describe(conn, object))
        .await?;
    Ok(web::Json(describe(table, definitions)))
}

/// An object's custom fields, archived ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldList {
    pub data: Vec<CustomFieldDefinition>,
}

#[utoipa::path(
    tag = "schema",
    operation_id = "listCustomFields",
    summary = "List custom fields",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`")),
    responses((status = 200, description = "The custom fields, archived ones included", body = CustomFieldList))
)]
#[get("/schema/{object}/fields")]
pub async fn list_custom_fields(
    state: web::Data<AppState>,
    principal: Principal,
    object: web::Path<String>,
) -> Result<web::Json<CustomFieldList>, ApiError> {
    let object = object_of(&object)?;
    principal.authorize(object.resource(), Access::Read)?;
    let definitions = state.db.read(move |conn| store::list(conn, object)).await?;
    Ok(web::Json(CustomFieldList {
        data: definitions
            .into_iter()
            .map(CustomFieldDefinition::from)
            .collect(),
    }))
}

#[utoipa::path(
    tag = "schema",
    operation_id = "createCustomField",
    summary = "Add a custom field",
    description = "Admins only. `indexed` and `unique` fields get an index; a `unique` field whose stored values clash is a `409`.",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`")),
    request_body = CustomFieldCreate,
    responses(
        (status = 201, description = "Added", body = CustomFieldDefinition,
            headers(("Location" = String, description = "URL of the field"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The object already has a field with this key", body = crate::platform::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/schema/{object}/fields")]
pub async fn create_custom_field(
    state: web::Data<AppState>,
    principal: Principal,
    object: web::Path<String>,
    ApiJson(body): ApiJson<CustomFieldCreate>,
) -> Result<HttpResponse, ApiError> {
    let object = object_of(&object)?;
    principal.authorize(Resource::Settings, Access::Write)?;
    let mut field = CustomField::new(body.key, body.field_type);
    CustomFieldUpdate {
        label: Some(Some(body.label)),
        field_type: None,
        scale: Some(body.scale),
        options: Some(body.options),
        required: body.required.map(Some),
        unique: body.unique.map(Some),
        default: body.default.map(Some),
        indexed: body.indexed.map(Some),
        portal_visible: body.portal_visible.map(Some),
    }
    .apply(&mut field)?;
    let definition = state
        .db
        .write(move |conn| store::create(conn, object, field))
        .await?;
    Ok(created(
        format!("/v1/schema/{object}/fields/{}", definition.field.key),
        definition.version,
        &CustomFieldDefinition::from(definition),
    ))
}

#[utoipa::path(
    tag = "schema",
    operation_id = "getCustomField",
    summary = "Get a custom field",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`"), ("key" = String, Path, description = "Field key")),
    responses((status = 200, description = "The field", body = CustomFieldDefinition,
        headers(("ETag" = String, description = "Its version"))))
)]
#[get("/schema/{object}/fields/{key}")]
pub async fn get_custom_field(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (object, key) = path.into_inner();
    let object = object_of(&object)?;
    principal.authorize(object.resource(), Access::Read)?;
    let definition = state
        .db
        .read(move |conn| store::get(conn, object, &key))
        .await?;
    Ok(versioned(
        definition.version,
        &CustomFieldDefinition::from(definition),
    ))
}

#[utoipa::path(
    tag = "schema",
    operation_id = "updateCustomField",
    summary = "Change a custom field",
    description = "Admins only. A type, scale or options change converts every stored value in one transaction, or is a `409` naming a record whose value cannot convert (as is removing an option in use).",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`"), ("key" = String, Path, description = "Field key")),
    request_body(content = CustomFieldUpdate, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed field", body = CustomFieldDefinition,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "A stored value cannot convert, or the field is archived", body = crate::platform::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/schema/{object}/fields/{key}")]
pub async fn update_custom_field(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CustomFieldUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (object, key) = path.into_inner();
    let object = object_of(&object)?;
    principal.authorize(Resource::Settings, Access::Write)?;
    let definition = state
        .db
        .write(move |conn| store::update(conn, object, &key, if_match.0, |field| body.apply(field)))
        .await?;
    Ok(versioned(
        definition.version,
        &CustomFieldDefinition::from(definition),
    ))
}

#[utoipa::path(
    tag = "schema",
    operation_id = "deleteCustomField",
    summary = "Archive a custom field",
    description = "Admins only. Its values stop showing at once on every node, and writes of it are a `422`.",
    params(("object" = String, Path, description = "`contacts`, `companies`, `leads`, `opportunities` or `orders`"), ("key" = String, Path, description = "Field key")),
    responses((status = 204, description = "Archived"))
)]
#[delete("/schema/{object}/fields/{key}")]
pub async fn delete_custom_field(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (object, key) = path.into_inner();
    let object = object_of(&object)?;
    principal.authorize(Resource::Settings, Access::Write)?;
    state
        .db
        .write(move |conn| store::archive(conn, object, &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The routes under `/schema`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_object_schema)
        .service(list_custom_fields)
        .service(create_custom_field)
        .service(get_custom_field)
        .service(update_custom_field)
        .service(delete_custom_field);
}
