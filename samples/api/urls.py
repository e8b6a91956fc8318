from labcore.api.routers import OptionalSlashRouter
from samples.api.views import SampleViewSet

router = OptionalSlashRouter()
router.register("samples", SampleViewSet, basename="sample")

urlpatterns = router.urls
