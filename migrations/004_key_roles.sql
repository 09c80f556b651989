-- Who may change what: keys have a role, links an owner.
-- * admin: every link; author: only the links created with that key.
--   Keys made before roles existed stay able to do what they did: admin.
-- * owner_key_id: the key a link was created with; NULL for anonymous links,
--   which only admins may change. A revoked key's links stay, for admins.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'author'));
ALTER TABLE api_keys ALTER COLUMN role SET DEFAULT 'author';

ALTER TABLE url_mappings ADD COLUMN owner_key_id bigint REFERENCES api_keys (id);
CREATE INDEX url_mappings_owner_newest ON url_mappings (owner_key_id, created_at DESC, id DESC) WHERE owner_key_id IS NOT NULL;

---- create above / drop below ----

DROP INDEX url_mappings_owner_newest;
ALTER TABLE url_mappings DROP COLUMN owner_key_id;
ALTER TABLE api_keys DROP COLUMN role;
