-- Systems are named as people know them: iOS, macOS and ChromeOS, not the
-- user-agent parser's iPhone OS, Mac OS X and CrOS. Old roll-ups are folded
-- into the new names (added to any a new backend wrote meanwhile).
INSERT INTO visit_stats (code, dim, hour, value, visits)
SELECT code, dim, hour,
       CASE value WHEN 'iPhone OS' THEN 'iOS' WHEN 'Mac OS X' THEN 'macOS' ELSE 'ChromeOS' END,
       sum(visits)
FROM visit_stats
WHERE dim = 'os' AND value IN ('iPhone OS', 'Mac OS X', 'CrOS', 'Chrome OS')
GROUP BY 1, 2, 3, 4
ON CONFLICT (code, dim, hour, value) DO UPDATE SET visits = visit_stats.visits + excluded.visits;
DELETE FROM visit_stats WHERE dim = 'os' AND value IN ('iPhone OS', 'Mac OS X', 'CrOS', 'Chrome OS');

---- create above / drop below ----

-- The fold cannot be undone (ChromeOS had two old names); the names stay.
