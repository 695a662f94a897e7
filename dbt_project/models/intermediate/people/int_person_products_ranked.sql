-- One row per person and product category or brand they showed interest in, ranked: product views
-- weigh 1, carts 3, purchases 5 (events up to the run date).

with events as (
    select * from {{ ref('stg_events__events') }}
    where product_id is not null
        and event_type in ('product_view', 'add_to_cart', 'purchase')
        and event_date <= {{ pwh.run_date() }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

identities as (
    select * from {{ ref('stg_ml__identity_map') }}
),

weighted as (
    select
        {{ pwh.person_of() }} as person_id,
        events.product_id,
        case events.event_type when 'purchase' then 5 when 'add_to_cart' then 3 else 1 end as weight
    from events
    {{ pwh.person_of_joins('events', 'identities') }}
),

attributes as (
    select
        weighted.person_id,
        'category' as attribute,
        products.category as attribute_value,
        weighted.weight
    from weighted
    inner join products
        on weighted.product_id = products.product_id
    union all
    select
        weighted.person_id,
        'brand' as attribute,
        products.brand as attribute_value,
        weighted.weight
    from weighted
    inner join products
        on weighted.product_id = products.product_id
),

scored as (
    select
        person_id,
        attribute,
        attribute_value,
        sum(weight) as score
    from attributes
    where person_id is not null
        and attribute_value is not null
    group by
        person_id,
        attribute,
        attribute_value
),

final as (
    select
        person_id,
        attribute,
        attribute_value,
        {{ dbt.cast('score', dbt.type_bigint()) }} as score,
        row_number() over (partition by person_id, attribute order by score desc, attribute_value) as preference_rank
    from scored
)

select * from final
