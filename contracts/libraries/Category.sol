// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Category
/// @notice Record category codes. A consent scope is a `uint32` bitmask with bit `1 << code` set
/// for each category it covers; a record carries exactly one code.
library Category {
    /// @notice Vital signs and device readings (heart rate, blood pressure, SpO2, glucose).
    uint8 internal constant VITAL_SIGNS = 0;
    /// @notice Laboratory results.
    uint8 internal constant LABORATORY = 1;
    /// @notice Conditions and diagnoses.
    uint8 internal constant CONDITIONS = 2;
    /// @notice Medications and prescriptions.
    uint8 internal constant MEDICATIONS = 3;
    /// @notice Imaging studies and reports.
    uint8 internal constant IMAGING = 4;
    /// @notice Clinical notes and documents.
    uint8 internal constant CLINICAL_NOTES = 5;
    /// @notice Genomic data.
    uint8 internal constant GENOMICS = 6;
    /// @notice Encrypted model inputs and results (the prediction workflow).
    uint8 internal constant PREDICTION = 7;
    /// @notice Demographics and administrative data.
    uint8 internal constant DEMOGRAPHICS = 8;
    /// @notice The largest code a scope can hold (a `uint32` mask).
    uint8 internal constant MAX = 31;
    /// @notice Every category: the scope a break-glass access covers.
    uint32 internal constant ALL = type(uint32).max;

    /// @notice The scope bit of `category`.
    function bit(uint8 category) internal pure returns (uint32) {
        return uint32(1) << category;
    }
}
