-- Rounds device store, schema 3: a phone shared by several people.

-- Who made each change this device has to push: the `by` of the change's message (NULL for
-- changes the server has acknowledged or sent). A person's waiting changes go out only under
-- their own session, so another person's sync never pushes them (the server would refuse
-- them as not that person's).
ALTER TABLE changes ADD COLUMN by_person TEXT;

-- The sync cursor and the reference data's version were the device's; they are each person's
-- now (`cursor/<person>`, `reference_version/<person>`, `reference/<person>`, ...): the second
-- person on a phone receives everything they may see, from the start. Dropping the device's
-- cursor makes each person's next sync pull from the start, which stores nothing twice.
DELETE FROM sync_state WHERE key IN ('cursor', 'reference_version', 'last_success', 'last_error');
