from labcore.api.routers import OptionalSlashRouter
from workflows.api.campaigns import CampaignViewSet
from workflows.api.device_execute import DeviceExecuteViewSet
from workflows.api.growth import SampleGrowthViewSet
from workflows.api.protocols import ProjectViewSet, ProtocolViewSet
from workflows.api.schedule import ScheduleViewSet
from workflows.api.views import WorkflowViewSet

router = OptionalSlashRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("projects", ProjectViewSet, basename="project")
router.register("protocols", ProtocolViewSet, basename="protocol")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("schedule", ScheduleViewSet, basename="schedule")
# POST /devices/{id}/execute (device-execute, as before): DeviceViewSet of devices serves the
# rest of /devices; this action needs workflows, which devices does not import.
router.register("devices", DeviceExecuteViewSet, basename="device")
# GET /samples/{barcode}/growth: time in culture is a run's, so it is routed here (workflows.growth).
router.register("samples", SampleGrowthViewSet, basename="sample")

urlpatterns = router.urls
