-- 4: tasks by activity name. Engines lease only the activities they have functions for; without
-- this index a lease skips, row by row, every ready task of the activities other hosts run (a
-- backlog of 200,000 of them made each poll a 75 ms sequential scan).

CREATE INDEX tasks_name_ready ON tasks (name, lock_expiry, seq);
