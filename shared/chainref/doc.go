// Package chainref is an independent reference reading of Cardano blocks,
// for tests: it does not use gouroboros or shared/chain. It walks generic
// CBOR (fxamacker/cbor finds item boundaries and checks well-formedness)
// guided by each era's CDDL (cardano-ledger eras/*/cddl-files, byron.cddl),
// keeps every item's original bytes, and hashes them with Blake2b
// (golang.org/x/crypto). It reports per block and per transaction what the
// chain says, as written:
//
//   - a block's era, hash, previous hash, slot, block number, issuer, protocol
//     version and the header's body size and hash, checked against the body;
//   - a transaction's hash, db-sync's size, validity, inputs (as a set),
//     outputs (address bytes, lovelace, assets, datum hash, inline datum,
//     reference script), fee, validity interval, collateral inputs and
//     return, total collateral, reference inputs, certificates, withdrawals,
//     mints, metadata labels, redeemers, required signers, votes, proposals,
//     treasury donation, scripts and Plutus data.
//
// Facts are the body as declared. Ledger semantics that need more than the
// block (a phase-2-invalid transaction's effects, fees of Byron transactions
// or of invalid ones without total_collateral, deposits, balances) are left
// to the caller; Tx.Valid and Tx.CollateralReturn.Index give what it needs.
//
// Definitions come from the ledger and db-sync sources:
//
//   - Shelley-on block hash: Blake2b-256 of the header's bytes. Byron: of the
//     header prefixed as the ledger wraps it, [0, ebb_header] or [1, header].
//   - Transaction hash: Blake2b-256 of the body's original bytes; Byron: of
//     the tx (inputs, outputs, attributes), without witnesses (db-sync
//     Era/Byron/Insert.hs serializeCborHash (taTx tx)).
//   - Transaction size: db-sync's tx.size is the ledger's sizeTxF
//     (Generic/Tx/Shelley.hs getTxSize). Shelley–Mary: the memoised bytes
//     segwitTx builds, an array-of-3 header, body, witnesses and auxiliary
//     data or null (Shelley/Tx.hs); Alonzo on: toCBORForSizeComputation, the
//     same three without the is_valid flag (Alonzo/Tx.hs). Byron: the
//     length of the serialised tx without witnesses (Era/Byron/Insert.hs).
//   - Script hash: Blake2b-224 of the language tag byte followed by the
//     native script's CBOR or the Plutus script's bytes (conway.cddl).
//   - Byron slots: epoch*21600 + slot (10k slots per epoch, k = 2160, as on
//     mainnet, preprod and the legacy testnet).
//
// Not covered: Byron delegation, update and SSC payloads, Byron witnesses
// and address attributes (kept as bytes), Shelley update proposals (kept as
// bytes), protocol parameter values inside governance actions, Plutus data
// and metadata values (kept as bytes), signature and VRF/KES checks, and
// Byron's body proof beyond its transaction count.
package chainref
