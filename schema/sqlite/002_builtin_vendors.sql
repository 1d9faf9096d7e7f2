-- The built-in vendors present on a new database (SPEC 2.2). They cannot be
-- deleted; their model lists can be changed.
INSERT INTO vendors (id, seq, name, api_version, description, builtin)
VALUES ('openai', 1, 'OpenAI', 'v1', 'OpenAI API', 1);
INSERT INTO vendor_models (vendor_id, name, seq) VALUES
    ('openai', 'gpt-4o', 1), ('openai', 'gpt-4o-mini', 2), ('openai', 'o1-mini', 3);

INSERT INTO vendors (id, seq, name, api_version, description, builtin, request_in, request_field,
                     auth_header, auth_prefix)
VALUES ('azure-openai', 2, 'AzureOpenAI', '2024-06-01', 'Azure OpenAI deployments (model in the URL path)',
        1, 'path', 'model', 'api-key', '');
INSERT INTO vendor_models (vendor_id, name, seq) VALUES
    ('azure-openai', 'gpt-4o', 1), ('azure-openai', 'gpt-4o-mini', 2);

INSERT INTO vendors (id, seq, name, api_version, description, builtin)
VALUES ('mistral', 3, 'Mistral', 'v1', 'Mistral AI API', 1);
INSERT INTO vendor_models (vendor_id, name, seq) VALUES
    ('mistral', 'mistral-large-latest', 1), ('mistral', 'mistral-small-latest', 2),
    ('mistral', 'open-mistral-nemo', 3);
