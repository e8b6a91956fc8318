from labcore.api.routers import OptionalSlashRouter
from workflows.api.protocols import ProjectViewSet, ProtocolViewSet
from workflows.api.views import WorkflowViewSet

router = OptionalSlashRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("projects", ProjectViewSet, basename="project")
router.register("protocols", ProtocolViewSet, basename="protocol")

urlpatterns = router.urls
