-- The store's identity: a random id made once, with the database. It is
-- part of every manifest answer and ETag, so a daemon holding `since=N`
-- from another store (a new database behind the same URL) sees that its
-- revision numbers mean nothing here and resyncs in full.
CREATE TABLE store_identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    identity  TEXT    NOT NULL
);
INSERT INTO store_identity (singleton, identity)
VALUES (1, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text));
