{#- Fails for every combination of `combination_of_columns` that appears on more than one row. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with source_rows as (
    select * from {{ model }}
),

duplicates as (
    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as row_count
    from source_rows
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from duplicates

{% endtest %}
