// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Purpose
/// @notice Purpose-of-use codes for consent, a small `uint8` mapping of HL7 v3 ActReason
/// (FHIR `PurposeOfUse`, system http://terminology.hl7.org/CodeSystem/v3-ActReason).
/// @dev 0 is never a valid purpose, so an all-zero storage slot can never look like a grant.
library Purpose {
    /// @notice No purpose: always invalid.
    uint8 internal constant NONE = 0;
    /// @notice TREAT: treatment (reading records, anchoring records as the treating provider).
    uint8 internal constant TREAT = 1;
    /// @notice ETREAT: emergency treatment. Break-glass access answers for this purpose only.
    uint8 internal constant ETREAT = 2;
    /// @notice HRESCH: healthcare research.
    uint8 internal constant HRESCH = 3;
    /// @notice TREATDS: treatment decision support — requesting encrypted model predictions.
    uint8 internal constant TREATDS = 4;
    /// @notice PATRQT: disclosure at the patient's request (family member, personal app).
    uint8 internal constant PATRQT = 5;
    /// @notice The largest valid purpose code.
    uint8 internal constant MAX = 5;

    /// @notice Whether `purpose` is one of the codes above (NONE excluded).
    function isValid(uint8 purpose) internal pure returns (bool) {
        return purpose != NONE && purpose < MAX + 1;
    }
}
