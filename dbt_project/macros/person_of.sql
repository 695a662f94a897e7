{#-
    person_of(relation, identities): the person_id of a row that carries user_id, email and anonymous_id
    columns, by the identity map `identities` (a CTE over stg_ml__identity_map). The logged-in user
    decides first, then the email, then the cookie, so a shared family device's logged-in visits still go
    to whoever logged in. Use in a select list; needs the joins from person_of_joins.
-#}
{% macro person_of() -%}
    coalesce(person_by_user_id.person_id, person_by_email.person_id, person_by_anonymous_id.person_id)
{%- endmacro %}

{% macro person_of_joins(relation, identities) -%}
    left join {{ identities }} as person_by_user_id
        on person_by_user_id.identifier_type = 'user_id'
        and {{ relation }}.user_id = person_by_user_id.identifier_value
    left join {{ identities }} as person_by_email
        on person_by_email.identifier_type = 'email'
        and {{ relation }}.email = person_by_email.identifier_value
    left join {{ identities }} as person_by_anonymous_id
        on person_by_anonymous_id.identifier_type = 'anonymous_id'
        and {{ relation }}.anonymous_id = person_by_anonymous_id.identifier_value
{%- endmacro %}
