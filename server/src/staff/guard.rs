//! Authorization in the handler's signature. A staff handler takes one of these extractors and
//! so cannot run unless the signed-in member may do its action ([`Allowed`]), and, for a wave's
//! or a batch's routes, unless the record exists and belongs to what the member may see
//! ([`InWave`], [`InBatch`]). The permissions are `Role::may` (one table, in
//! `sipas_app::staff::roles`); the route × role matrix test checks every route against it.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use sipas_app::staff::frame::Frame;
use sipas_app::staff::port::{BatchSummary, WaveDetails};
use sipas_app::staff::{Action, ProvinceFilter};

use super::auth::Staff;
use super::error::StaffError;
use crate::web::AppState;

/// An action a handler needs, as a type: `Allowed<can::Monitor>`.
pub trait Permission: Send + Sync + 'static {
    const ACTION: Action;
}

/// One type per [`Action`].
pub mod can {
    use super::{Action, Permission};

    macro_rules! permissions {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("[`Action::", stringify!($name), "`]")]
            pub struct $name;
            impl Permission for $name {
                const ACTION: Action = Action::$name;
            }
        )*};
    }

    permissions!(
        ManageAccounts,
        ReadAudit,
        ManageWaves,
        UploadFrame,
        IssueCodes,
        ImportPaper,
        Export,
        Monitor,
        ReadResults,
        ComputeResults,
        ApproveResults,
        DownloadFullTotals,
        DesignSample,
        ReviewResponses,
        AssignFieldwork,
        DoFieldwork,
    );
}

/// The signed-in member, who may do `P`.
pub struct Allowed<P> {
    pub staff: Staff,
    permission: PhantomData<fn() -> P>,
}

impl<P> Deref for Allowed<P> {
    type Target = Staff;
    fn deref(&self) -> &Staff {
        &self.staff
    }
}

impl<P: Permission> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, StaffError> {
        let staff = Staff::from_request_parts(parts, state).await?;
        if !staff.user.may(P::ACTION) {
            return Err(StaffError::Forbidden);
        }
        Ok(Self {
            staff,
            permission: PhantomData,
        })
    }
}

/// The value of path parameter `name`.
async fn path_param(parts: &mut Parts, state: &AppState, name: &str) -> Result<String, StaffError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| StaffError::NotFound)?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or(StaffError::NotFound)
}

/// A wave's route (`{wave}` in the path) for a member who may do `P`: the wave's details and
/// the provinces of it the member sees (`None`: every province). A provincial officer and a
/// wave on another map (where their code names another unit) is refused.
pub struct InWave<P> {
    pub allowed: Allowed<P>,
    pub wave: WaveDetails,
    pub province: Option<String>,
}

impl<P> Deref for InWave<P> {
    type Target = Staff;
    fn deref(&self) -> &Staff {
        &self.allowed.staff
    }
}

impl<P> InWave<P> {
    pub fn code(&self) -> &str {
        &self.wave.wave.code
    }

    /// The wave's frame as this member may see it (their province only, for an officer).
    pub async fn frame(&self, state: &AppState) -> Result<Frame, StaffError> {
        Ok(state
            .staff
            .store
            .frame(self.code(), self.province.as_deref())
            .await?)
    }
}

impl<P: Permission> FromRequestParts<AppState> for InWave<P> {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, StaffError> {
        let allowed = Allowed::<P>::from_request_parts(parts, state).await?;
        let code = path_param(parts, state, "wave").await?;
        let wave = state.staff.store.wave_details(&code).await?;
        let province = match allowed.user.scope().filter_for(wave.wave.geography) {
            ProvinceFilter::All => None,
            ProvinceFilter::Only(code) => Some(code.to_owned()),
            ProvinceFilter::Nothing => return Err(StaffError::Forbidden),
        };
        Ok(Self {
            allowed,
            wave,
            province,
        })
    }
}

/// An invitation batch's route (`{batch}` in the path) for a member who may do `P` and whose
/// province it is, with its wave.
pub struct InBatch<P> {
    pub allowed: Allowed<P>,
    pub batch: BatchSummary,
    pub wave: WaveDetails,
}

impl<P> Deref for InBatch<P> {
    type Target = Staff;
    fn deref(&self) -> &Staff {
        &self.allowed.staff
    }
}

impl<P: Permission> FromRequestParts<AppState> for InBatch<P> {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, StaffError> {
        let allowed = Allowed::<P>::from_request_parts(parts, state).await?;
        let id = path_param(parts, state, "batch").await?;
        let batch = state.staff.store.batch(&id).await?;
        let wave = state.staff.store.wave_details(&batch.wave_code).await?;
        if !allowed
            .user
            .scope()
            .allows(wave.wave.geography, &batch.province_code)
        {
            return Err(StaffError::Forbidden);
        }
        Ok(Self {
            allowed,
            batch,
            wave,
        })
    }
}

/// An accredited researcher's route: the signed-in researcher and the approval their account
/// carries (any other account is refused).
pub struct Researcher {
    pub staff: Staff,
    pub access: sipas_app::staff::research::ResearchAccess,
}

impl Deref for Researcher {
    type Target = Staff;
    fn deref(&self) -> &Staff {
        &self.staff
    }
}

impl FromRequestParts<AppState> for Researcher {
    type Rejection = StaffError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, StaffError> {
        let staff = Staff::from_request_parts(parts, state).await?;
        Self::of(state, staff).await
    }
}

impl Researcher {
    /// The signed-in member as a researcher with their approval; any other account is refused.
    pub async fn of(state: &AppState, staff: Staff) -> Result<Self, StaffError> {
        if staff.user.role != sipas_app::staff::Role::Researcher {
            return Err(StaffError::Forbidden);
        }
        // A researcher account is created with its approval; without one it may do nothing.
        let access = state
            .staff
            .store
            .research_access(staff.user.id)
            .await?
            .ok_or(StaffError::Forbidden)?;
        Ok(Self { staff, access })
    }
}
