-- 3: leader leases of the singleton roles.

CREATE TABLE leader_leases (
	role   text COLLATE "C" PRIMARY KEY,
	holder text NOT NULL,
	fence  bigint NOT NULL,
	expiry bigint NOT NULL
);
