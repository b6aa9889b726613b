-- Up Migration
-- For a single autocommit statement that must write all of its rows or none of them: called in its
-- final SELECT, it raises (SQLSTATE SH001) when `undo` is true, so the statement and every row its CTEs
-- wrote are rolled back. Inside a transaction it aborts the whole transaction (and in a group-commit
-- batch, every work of the batch): use it only outside one. The checkout's accept
-- (src/adapters/postgres/checkoutLedger.ts) writes its checkout, its Idempotency-Key and its event in
-- one statement this way, instead of a transaction of four.
CREATE FUNCTION undo_statement_if(undo boolean, reason text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF undo THEN
    RAISE EXCEPTION '%', reason USING ERRCODE = 'SH001';
  END IF;
  RETURN false;
END $$;

-- Down Migration
DROP FUNCTION undo_statement_if(boolean, text);
