//! `/v1/products`: the catalogue. Staff only: it carries unit costs.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::Violations;
use crm_store::sales::products::{self as store, ProductFields, ProductFilter, ProductSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{
    read_page, sort_schema, ListResponse, PageQuery, SortOptions, Sorted,
};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

impl Sorted for ProductSort {
    const SORTS: SortOptions<ProductSort> = SortOptions {
        options: &[
            ("created_at", ProductSort::CreatedAt),
            ("name", ProductSort::Name),
        ],
        default: "-created_at",
    };
}

/// A product of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Stock-keeping unit, unique.
    pub sku: String,
    /// Name, the default line description.
    pub name: String,
    /// Longer description.
    pub description: Option<String>,
    /// List price per unit.
    pub unit_price: Money,
    /// What a unit costs us (staff only).
    pub unit_cost: Option<Money>,
    /// Tax rate in basis points (`2100` = 21%).
    pub tax_rate_bp: i64,
    /// Inactive products stay on past documents but should not be sold.
    pub active: bool,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived (deleted); null while in the catalogue.
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<store::Product> for Product {
    fn from(product: store::Product) -> Self {
        let currency = product.fields.currency.clone();
        Product {
            id: product.id,
            sku: product.fields.sku,
            name: product.fields.name,
            description: product.fields.description,
            unit_price: Money::new(product.fields.unit_price_minor, &currency),
            unit_cost: product
                .fields
                .unit_cost_minor
                .map(|c| Money::new(c, &currency)),
            tax_rate_bp: product.fields.tax_rate_bp,
            active: product.fields.active,
            version: product.version,
            created_at: utc(product.created_at),
            updated_at: utc(product.updated_at),
            archived_at: utc_opt(product.archived_at),
        }
    }
}

/// A new product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "W-1", "name": "Widget", "unit_price": {"amount_minor": 1000, "currency": "EUR"}, "unit_cost": {"amount_minor": 600, "currency": "EUR"}, "tax_rate_bp": 2100}))]
pub struct ProductCreate {
    /// Stock-keeping unit, unique.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Longer description.
    pub description: Option<String>,
    /// List price per unit; its currency is the product's.
    pub unit_price: Money,
    /// Cost per unit, in the same currency.
    pub unit_cost: Option<Money>,
    /// Tax rate in basis points; default 0.
    pub tax_rate_bp: Option<i64>,
    /// Default true.
    pub active: Option<bool>,
}

/// Changes to a product, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"unit_price": {"amount_minor": 1100, "currency": "EUR"}}))]
pub struct ProductUpdate {
    /// Stock-keeping unit; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub sku: Option<Option<String>>,
    /// Name; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub name: Option<Option<String>>,
    /// Longer description.
    #[serde(default, deserialize_with = "patch")]
    pub description: Option<Option<String>>,
    /// List price; cannot be null. Changing its currency changes the product's.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub unit_price: Option<Option<Money>>,
    /// Cost per unit.
    #[serde(default, deserialize_with = "patch")]
    pub unit_cost: Option<Option<Money>>,
    /// Tax rate in basis points; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub tax_rate_bp: Option<Option<i64>>,
    /// Whether it can be sold; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub active: Option<Option<bool>>,
}

impl ProductUpdate {
    fn apply(self, f: &mut ProductFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        match self.sku {
            Some(Some(v)) => f.sku = c.required("sku", &v, 64),
            Some(None) => c.not_null("sku"),
            None => {}
        }
        match self.name {
            Some(Some(v)) => f.name = c.required("name", &v, SHORT),
            Some(None) => c.not_null("name"),
            None => {}
        }
        if let Some(v) = self.description {
            f.description = c.optional("description", v.as_deref(), 5000);
        }
        match self.unit_price {
            Some(Some(m)) => {
                if let Some(amount) = c.money("unit_price", &m, None) {
                    f.unit_price_minor = amount;
                    f.currency = m.currency;
                }
            }
            Some(None) => c.not_null("unit_price"),
            None => {}
        }
        if let Some(v) = self.unit_cost {
            f.unit_cost_minor = v.and_then(|m| c.money("unit_cost", &m, Some(&f.currency)));
        }
        match self.tax_rate_bp {
            Some(Some(v)) => f.tax_rate_bp = c.tax_rate_bp("tax_rate_bp", v).unwrap_or(0),
            Some(None) => c.not_null("tax_rate_bp"),
            None => {}
        }
        match self.active {
            Some(Some(v)) => f.active = v,
            Some(None) => c.not_null("active"),
            None => {}
        }
        c.finish()
    }
}

/// Filters and paging for the product list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// Text to find in the SKU or name (case-insensitive).
    pub q: Option<String>,
    /// Only active (true) or inactive (false) products.
    pub active: Option<bool>,
    /// Include archived products.
    pub include_archived: Option<bool>,
    /// `created_at` or `name`; prefix `-` for descending. Default `-created_at`.
    #[param(schema_with = sort_schema::<ProductSort>)]
    pub sort: Option<String>,
}

#[utoipa::path(tag = "products", operation_id = "listProducts", summary = "List products",
    params(ProductListQuery, PageQuery),
    responses((status = 200, description = "A page of products", body = ListResponse<Product>)))]
#[get("/products")]
pub async fn list_products(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ProductListQuery>,
) -> Result<web::Json<ListResponse<Product>>, ApiError> {
    principal.authorize(Resource::Products, Access::Read)?;
    let (page, sort) = ProductSort::SORTS.request(query.sort.as_deref(), &paging)?;
    let mut c = Checker::default();
    let filter = ProductFilter {
        q: c.optional("q", query.q.as_deref(), SHORT)
            .map(|q| q.to_lowercase()),
        active: query.active,
        include_archived: query.include_archived.unwrap_or(false),
    };
    c.finish()?;
    read_page(&state, store::list, filter, page, &sort, Product::from).await
}

#[utoipa::path(tag = "products", operation_id = "createProduct", summary = "Create a product",
    request_body = ProductCreate,
    responses(
        (status = 201, description = "Created", body = Product, headers(("Location" = String, description = "URL of the new product"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The SKU is taken; `existing_id` names the product", body = Problem, content_type = "application/problem+json")))]
#[post("/products")]
pub async fn create_product(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ProductCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Products, Access::Write)?;
    let fields = body.into_fields()?;
    let product = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/products/{}", product.id),
        product.version,
        &Product::from(product),
    ))
}

impl ProductCreate {
    /// Checks a new product as an update of every field, so that both are checked alike.
    fn into_fields(self) -> Result<ProductFields, ApiError> {
        let mut fields = ProductFields::default();
        ProductUpdate {
            sku: Some(Some(self.sku)),
            name: Some(Some(self.name)),
            description: Some(self.description),
            unit_price: Some(Some(self.unit_price)),
            unit_cost: Some(self.unit_cost),
            tax_rate_bp: Some(Some(self.tax_rate_bp.unwrap_or(0))),
            active: Some(Some(self.active.unwrap_or(true))),
        }
        .apply(&mut fields)?;
        Ok(fields)
    }
}

#[utoipa::path(tag = "products", operation_id = "getProduct", summary = "Get a product",
    params(("id" = String, Path, description = "Product id")),
    responses((status = 200, description = "The product", body = Product, headers(("ETag" = String, description = "Its version")))))]
#[get("/products/{id}")]
pub async fn get_product(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(Resource::Products, store::get, |r| r.version, Product::from)
        .await
}

#[utoipa::path(tag = "products", operation_id = "updateProduct", summary = "Update a product",
    params(("id" = String, Path, description = "Product id")),
    request_body(content = ProductUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated product", body = Product, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/products/{id}")]
pub async fn update_product(
    target: ActionTarget,
    ApiJson(body): ApiJson<ProductUpdate>,
) -> Result<HttpResponse, ApiError> {
    let product = target
        .update(Resource::Products, store::update, move |fields, _| {
            body.apply(fields)
        })
        .await?;
    Ok(versioned(product.version, &Product::from(product)))
}

#[utoipa::path(tag = "products", operation_id = "deleteProduct", summary = "Archive a product",
    description = "Archives the product: it stays on the documents that name it, becomes inactive, and leaves lists unless `include_archived=true`.",
    params(("id" = String, Path, description = "Product id")),
    responses((status = 204, description = "Archived")))]
#[delete("/products/{id}")]
pub async fn delete_product(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Products, store::archive)
        .await
}

/// The routes under `/products`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_products)
        .service(create_product)
        .service(get_product)
        .service(update_product)
        .service(delete_product);
}
