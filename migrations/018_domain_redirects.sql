-- Where a short domain sends a visitor who asks for its root, or for a
-- code it has no link for (Shlink's domain redirects). The domain as links
-- store it ('' the default); NULL: no redirect (the page, or the 404).
CREATE TABLE domain_redirects (
    domain    text PRIMARY KEY,
    root      text,
    not_found text
);

---- create above / drop below ----

DROP TABLE domain_redirects;
