-- One row per catalog product. Text trimmed, currency upper case, price also in the reporting currency,
-- and tags kept as delivered (`tags`) plus a normalised '|'-list (`tags_normalized`).
--
-- The one join here is a lookup, not a model join: a left join to the fx_rates seed on its unique key
-- (tested), needed to compare prices quoted in several currencies. It only adds a column, so the grain
-- stays the source's.

with products as (
    select * from {{ pwh.source_or_empty('catalog', 'products') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

conversion_rates as (
    {{ pwh.fx_to_reporting_rates('fx_rates') }}
),

renamed as (
    select
        trim(product_id) as product_id,
        {{ pwh.squish('title') }} as title,
        trim(description) as description,
        {{ pwh.squish('category') }} as category,
        {{ pwh.squish('brand') }} as brand,
        price,
        upper(trim(currency)) as currency,
        tags,
        launched_at as launch_date
    from products
),

tags_normalized as (
    select
        renamed.*,
        -- lower case, no spaces around '|', no empty tags: " Cooking | Italian||Kitchen " -> "cooking|italian|kitchen"
        nullif(
            {{ pwh.regexp_replace_all(
                pwh.regexp_replace_all('lower(trim(tags))', '\s*\|[\s|]*', '|'),
                '^\||\|$', ''
            ) }},
            ''
        ) as tags_normalized
    from renamed
),

converted as (
    select
        tags_normalized.*,
        {{ pwh.convert_amount('tags_normalized.price', 'conversion_rates.rate_to_reporting') }}
            as {{ pwh.in_reporting_currency('price') }}
    from tags_normalized
    left join conversion_rates
        on tags_normalized.currency = conversion_rates.currency
),

final as (
    select
        product_id,
        title,
        description,
        category,
        brand,
        price,
        currency,
        {{ pwh.in_reporting_currency('price') }},
        tags,
        tags_normalized,
        launch_date
    from converted
)

select * from final
